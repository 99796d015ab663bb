"""Loading analytics records with SQLAlchemy Core: Rasa's events from its SQL tracker store
(table ``events``), and handoffs, agent replies and ratings from the gateway's database.

The date range and the channel are in the SQL (bound parameters), widened by LOOKAROUND_SECONDS
on both sides so that a conversation crossing midnight at either end is read whole; which
conversations count is decided by ``compute``. Connections are read-only: a SQLite file is
opened with ``mode=ro``, a PostgreSQL session with ``default_transaction_read_only``.

Blocking: call these from a worker thread.

Example:
    >>> engine = read_only_engine("sqlite:///var/rasa_tracker.db")
    >>> events = read_events(engine, AnalyticsQuery(date(2026, 11, 1), date(2026, 11, 30)))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import (
    Engine,
    Float,
    Integer,
    Select,
    String,
    Text,
    and_,
    column,
    create_engine,
    make_url,
    or_,
    select,
    table,
)
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from connectors.analytics.errors import EventsUnavailable
from connectors.analytics.query import AnalyticsQuery
from connectors.analytics.records import (
    ACTION,
    ACTIONS_READ,
    BOT,
    FALLBACK_RESPONSES,
    SESSION_STARTED,
    USER,
    AgentReply,
    GatewayFacts,
    HandoffFact,
    Rating,
    TrackerEvent,
)

LOOKAROUND_SECONDS = 86_400.0
MAX_TEXT_CHARS = 500
STATEMENT_TIMEOUT_MS = 30_000
POOL_SIZE = 2
EVENTS_SOURCE = "conversation events (ANALYTICS_EVENTS_URL)"
GATEWAY_SOURCE = "gateway's handoffs and ratings (GATEWAY_DATABASE_URL or GATEWAY_DB)"

# Rasa 3.6's SQLTrackerStore table (rasa/core/tracker_store.py, SQLEvent).
EVENTS = table(
    "events",
    column("id", Integer),
    column("sender_id", String),
    column("type_name", String),
    column("timestamp", Float),
    column("intent_name", String),
    column("action_name", String),
    column("data", Text),
)
# The gateway's tables (connectors/migrations), the columns read here.
HANDOFFS = table(
    "handoffs",
    column("id", Integer),
    column("conversation_id", Text),
    column("channel", Text),
    column("trigger_rule", Text),
    column("created_at", Float),
    column("resolved_at", Float),
)
CSAT = table(
    "csat",
    column("handoff_id", Integer),
    column("score", Integer),
    column("created_at", Float),
)
TRANSCRIPT = table(
    "transcript",
    column("id", Integer),
    column("conversation_id", Text),
    column("role", Text),
    column("created_at", Float),
)


def read_only_engine(url: str, *, password: str = "") -> Engine:
    """An engine that can only read ``url``: ``sqlite:///<file>`` or
    ``postgresql://user@host:port/db`` (``password`` apart from the URL).

    Raises:
        ValueError: not a SQLite file or PostgreSQL URL (an in-memory SQLite database
            cannot be opened twice).
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("the URL must be sqlite:///<file> or postgresql://…") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or path.startswith("file:"):
            raise ValueError("a SQLite database must be a file: sqlite:///path/to/file.db")
        where = quote(str(Path(path).resolve()))
        return create_engine(f"sqlite+pysqlite:///file:{where}?mode=ro&uri=true")
    if backend != "postgresql":
        raise ValueError(f"the URL must be sqlite:///<file> or postgresql://…, not {backend}")
    parsed = parsed.set(drivername="postgresql+psycopg")
    if password:
        parsed = parsed.set(password=password)
    return create_engine(
        parsed,
        pool_size=POOL_SIZE,
        max_overflow=POOL_SIZE,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": 10,
            "options": "-c default_transaction_read_only=on "
            f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        },
    )


def events_statement(query: AnalyticsQuery) -> Select[Any]:
    """The SELECT of the events ``read_events`` needs: user and bot messages, session starts,
    and the actions that say a turn was a document question or a fallback."""
    events = EVENTS.c
    statement = (
        select(
            events.sender_id,
            events.type_name,
            events.timestamp,
            events.intent_name,
            events.action_name,
            events.data,
        )
        .where(
            events.timestamp >= query.start_ts - LOOKAROUND_SECONDS,
            events.timestamp < query.end_ts + LOOKAROUND_SECONDS,
            or_(
                events.type_name.in_((USER, BOT, SESSION_STARTED)),
                and_(events.type_name == ACTION, events.action_name.in_(ACTIONS_READ)),
            ),
        )
        .order_by(events.sender_id, events.timestamp, events.id)
    )
    if query.channel is not None:
        statement = statement.where(events.sender_id.like(f"{query.channel}:%"))
    return statement


def read_events(engine: Engine, query: AnalyticsQuery) -> list[TrackerEvent]:
    """Rasa's events around the query's range (LOOKAROUND_SECONDS more on each side), on its
    channel. Bot messages are kept only when they are a fallback or a handoff request.

    Raises:
        EventsUnavailable: the tracker store cannot be reached or has no events table.
    """
    try:
        with engine.connect() as connection:
            rows = connection.execute(events_statement(query)).all()
    except SQLAlchemyError as error:
        raise EventsUnavailable(EVENTS_SOURCE, _reason(error)) from error
    events = []
    for row in rows:
        event = tracker_event(*row)
        if event is not None:
            events.append(event)
    return events


def tracker_event(
    sender_id: str,
    type_name: str,
    timestamp: float | None,
    intent_name: str | None,
    action_name: str | None,
    data: str | None,
) -> TrackerEvent | None:
    """One row of ``events`` as a TrackerEvent; None for a bot message that is neither a
    fallback nor a handoff request, or a row without a time.

    Example:
        >>> tracker_event("web:a", "user", 5.0, "greet", None, '{"text": "hi"}').text
        'hi'
    """
    if timestamp is None:
        return None
    if type_name == USER:
        text = _json(data).get("text")
        return TrackerEvent(
            sender_id,
            USER,
            float(timestamp),
            intent=intent_name,
            text=text[:MAX_TEXT_CHARS] if isinstance(text, str) else None,
        )
    if type_name == BOT:
        body = _json(data)
        metadata = body.get("metadata")
        response = metadata.get("utter_action") if isinstance(metadata, dict) else None
        rule = _handoff_rule(body)
        if response not in FALLBACK_RESPONSES and rule is None:
            return None
        return TrackerEvent(
            sender_id,
            BOT,
            float(timestamp),
            response=response if isinstance(response, str) else None,
            handoff_rule=rule,
        )
    return TrackerEvent(sender_id, type_name, float(timestamp), action=action_name)


def read_gateway_facts(engine: Engine, query: AnalyticsQuery) -> GatewayFacts:
    """The handoffs opened around the query's range on its channel, the agents' replies in
    those conversations after each was opened, and their ratings.

    Raises:
        EventsUnavailable: the gateway's database cannot be reached.
    """
    handoffs = HANDOFFS.c
    window = [
        handoffs.created_at >= query.start_ts - LOOKAROUND_SECONDS,
        handoffs.created_at < query.end_ts + LOOKAROUND_SECONDS,
    ]
    if query.channel is not None:
        window.append(handoffs.conversation_id.like(f"{query.channel}:%"))
    replies = TRANSCRIPT.c
    try:
        with engine.connect() as connection:
            opened = connection.execute(
                select(
                    handoffs.id,
                    handoffs.conversation_id,
                    handoffs.channel,
                    handoffs.trigger_rule,
                    handoffs.created_at,
                    handoffs.resolved_at,
                )
                .where(*window)
                .order_by(handoffs.created_at, handoffs.id)
            ).all()
            answered = connection.execute(
                select(replies.id, replies.conversation_id, replies.created_at)
                .distinct()
                .join(HANDOFFS, handoffs.conversation_id == replies.conversation_id)
                .where(
                    *window,
                    replies.role == "agent",
                    replies.created_at >= handoffs.created_at,
                )
                .order_by(replies.id)
            ).all()
            rated = connection.execute(
                select(CSAT.c.handoff_id, CSAT.c.score, CSAT.c.created_at)
                .join(HANDOFFS, handoffs.id == CSAT.c.handoff_id)
                .where(*window)
                .order_by(CSAT.c.handoff_id)
            ).all()
    except SQLAlchemyError as error:
        raise EventsUnavailable(GATEWAY_SOURCE, _reason(error)) from error
    return GatewayFacts(
        handoffs=[
            HandoffFact(
                int(i),
                str(conversation),
                str(channel),
                str(rule),
                float(created),
                None if resolved is None else float(resolved),
            )
            for i, conversation, channel, rule, created, resolved in opened
        ],
        agent_replies=[AgentReply(str(who), float(at)) for _, who, at in answered],
        ratings=[Rating(int(handoff), int(score), float(at)) for handoff, score, at in rated],
    )


def _json(data: str | None) -> dict[str, Any]:
    try:
        value = json.loads(data or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _handoff_rule(body: dict[str, Any]) -> str | None:
    """The rule of a handoff request an action put in a bot message (``data.custom``)."""
    data = body.get("data")
    custom = data.get("custom") if isinstance(data, dict) else None
    handoff = custom.get("handoff") if isinstance(custom, dict) else None
    rule = handoff.get("rule") if isinstance(handoff, dict) else None
    return rule if isinstance(rule, str) else None


def _reason(error: SQLAlchemyError) -> str:
    """The driver's first line, without the statement SQLAlchemy appends."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__

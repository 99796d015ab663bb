"""A synthetic conversation log with answers worked out by hand, for the analytics tests
(the computation on records, the readers that load the same log from SQLite and PostgreSQL,
and the HTTP layer): the records, and ``write_log`` to put them in the databases as rows.

The range is 2026-11-02 to 2026-11-03 (UTC). What happens, second by second from
2026-11-02 00:00 UTC (``DAY``):

- web:a, 1st session (web): greet, order_status, thanks; answered, no handoff.
- web:b (web): ask_document "do you sell gift cards?" → "I don't know"; "Do you sell gift
  cards" → repeated fallback; handoff 1 (repeated_fallback) at 221, agent at 311, rated 4.
- telegram:1: ask_document (answered), out_of_scope (a fallback); the user leaves.
- rest:local:x: nlu_fallback "asdf qwer" → "I don't know"; request_human; greet after the
  hand-back; handoff 2 (user_request) at 411, agent at 441 and 500, rated 2.
- web:c (gateway only, escalated before Rasa): handoff 3 (sensitive_topic:legal) at 700,
  no reply.
- web:a, 2nd session at 5000 (web): check_stock; handoff 5 (frustration) at 5005, agent at
  5305.
- slack:T1:U1, on 2026-11-03: greet; answered.
- web:d, on 2026-11-01 (out of range): greet; handoff 4 (user_request), a reply, rated 5.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Column, Engine, Float, Integer, MetaData, String, Table, Text, insert

from connectors.analytics.query import AnalyticsQuery
from connectors.analytics.records import (
    AgentReply,
    GatewayFacts,
    HandoffFact,
    Rating,
    TrackerEvent,
)
from connectors.store import GatewayStore

DAY = datetime(2026, 11, 2, tzinfo=UTC).timestamp()
NEXT_DAY = DAY + 86_400
QUERY = AnalyticsQuery(date(2026, 11, 2), date(2026, 11, 3))
DOC = "action_answer_document_question"


def user(sender: str, at: float, intent: str, text: str) -> TrackerEvent:
    return TrackerEvent(sender, "user", at, intent=intent, text=text)


def bot(
    sender: str, at: float, response: str | None = None, rule: str | None = None
) -> TrackerEvent:
    return TrackerEvent(sender, "bot", at, response=response, handoff_rule=rule)


def action(sender: str, at: float, name: str) -> TrackerEvent:
    return TrackerEvent(sender, "action", at, action=name)


def session(sender: str, at: float) -> TrackerEvent:
    return TrackerEvent(sender, "session_started", at)


EVENTS = [
    # web:a, first session: contained.
    session("web:a", DAY + 100),
    user("web:a", DAY + 100, "greet", "hi"),
    user("web:a", DAY + 110, "order_status", "where is my order SO-100001"),
    user("web:a", DAY + 130, "thanks", "thanks"),
    # web:b: two document questions the documents do not answer; the second escalates.
    session("web:b", DAY + 200),
    user("web:b", DAY + 200, "ask_document", "do you sell gift cards?"),
    action("web:b", DAY + 201, DOC),
    bot("web:b", DAY + 201, response="utter_document_unknown"),
    user("web:b", DAY + 220, "ask_document", "Do you sell gift cards"),
    action("web:b", DAY + 221, DOC),
    bot("web:b", DAY + 221, rule="repeated_fallback"),
    # telegram:1: one answered document question, then out of scope; the user leaves.
    session("telegram:1", DAY + 300),
    user("telegram:1", DAY + 300, "ask_document", "how long is the warranty"),
    action("telegram:1", DAY + 301, DOC),
    user("telegram:1", DAY + 320, "out_of_scope", "what's the weather like"),
    action("telegram:1", DAY + 321, "action_out_of_scope"),
    bot("telegram:1", DAY + 321, response="utter_out_of_scope"),
    # rest:local:x: low NLU confidence goes to the documents (no answer), then a person.
    session("rest:local:x", DAY + 400),
    user("rest:local:x", DAY + 400, "nlu_fallback", "asdf qwer"),
    action("rest:local:x", DAY + 401, DOC),
    bot("rest:local:x", DAY + 401, response="utter_document_unknown"),
    user("rest:local:x", DAY + 410, "request_human", "talk to a person"),
    bot("rest:local:x", DAY + 411, rule="user_request"),
    user("rest:local:x", DAY + 600, "greet", "hello again"),
    # web:a, second session (Rasa started a new one): a stock question, then frustration.
    session("web:a", DAY + 5000),
    user("web:a", DAY + 5000, "check_stock", "is WID-1001 in stock"),
    # slack, the next day: contained.
    session("slack:T1:U1", NEXT_DAY + 100),
    user("slack:T1:U1", NEXT_DAY + 100, "greet", "hello"),
    # web:d, the day before the range: counted nowhere.
    session("web:d", DAY - 1000),
    user("web:d", DAY - 1000, "greet", "hi"),
]

FACTS = GatewayFacts(
    handoffs=[
        HandoffFact(1, "web:b", "web", "repeated_fallback", DAY + 221, DAY + 400),
        HandoffFact(2, "rest:local:x", "rest", "user_request", DAY + 411, DAY + 550),
        HandoffFact(3, "web:c", "web", "sensitive_topic:legal", DAY + 700),
        HandoffFact(4, "web:d", "web", "user_request", DAY - 990, DAY - 900),
        HandoffFact(5, "web:a", "web", "frustration", DAY + 5005, DAY + 5400),
    ],
    agent_replies=[
        AgentReply("web:b", DAY + 311),
        AgentReply("rest:local:x", DAY + 441),
        AgentReply("rest:local:x", DAY + 500),
        AgentReply("web:d", DAY - 950),
        AgentReply("web:a", DAY + 5305),
    ],
    ratings=[
        Rating(1, 4, DAY + 410),
        Rating(2, 2, DAY + 560),
        Rating(4, 5, DAY - 890),
    ],
)


METADATA = MetaData()
# The table Rasa 3.6's SQLTrackerStore creates (rasa/core/tracker_store.py, SQLEvent).
RASA_EVENTS = Table(
    "events",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)


def rasa_row(event: TrackerEvent) -> dict[str, Any]:
    """An event as Rasa's SQL tracker store writes it (``data`` is the event's as_dict())."""
    data: dict[str, Any] = {"event": event.type_name, "timestamp": event.timestamp}
    if event.type_name == "user":
        data.update(
            text=event.text, input_channel="gateway", message_id="m1",
            metadata={"channel": event.sender_id.split(":")[0], "role": "customer"},
            parse_data={"intent": {"name": event.intent, "confidence": 0.91}, "entities": [],
                        "text": event.text},
        )  # fmt: skip
    elif event.type_name == "bot":
        custom = None
        if event.handoff_rule:
            custom = {"handoff": {"rule": event.handoff_rule, "score": 0.9, "detail": "d",
                                  "slots": {}}}  # fmt: skip
        data.update(
            text="…", metadata={"utter_action": event.response} if event.response else {},
            data={"elements": None, "quick_replies": None, "buttons": None, "attachment": None,
                  "image": None, "custom": custom},
        )  # fmt: skip
    elif event.type_name == "action":
        data.update(name=event.action, policy="RulePolicy", confidence=1.0)
    return {
        "sender_id": event.sender_id,
        "type_name": event.type_name,
        "timestamp": event.timestamp,
        "intent_name": event.intent,
        "action_name": event.action,
        "data": json.dumps(data),
    }


# Rows the readers must leave out: what the bot did that says nothing about analytics, and
# events two days before the range (beyond the reader's one-day margin).
NOISE = [
    {"sender_id": "web:a", "type_name": "action", "timestamp": DAY + 101,
     "action_name": "action_listen", "data": '{"event": "action", "name": "action_listen"}'},
    {"sender_id": "web:a", "type_name": "bot", "timestamp": DAY + 101,
     "data": json.dumps({"event": "bot", "text": "Hi!", "metadata": {"utter_action": "utter_greet"},
                         "data": {"custom": None}})},
    {"sender_id": "web:a", "type_name": "slot", "timestamp": DAY + 111,
     "data": '{"event": "slot", "name": "order_number", "value": "SO-100001"}'},
    {"sender_id": "web:a", "type_name": "action", "timestamp": DAY + 99,
     "action_name": "action_session_start", "data": "{}"},
    {"sender_id": "web:old", "type_name": "user", "timestamp": DAY - 2 * 86_400,
     "intent_name": "greet", "data": '{"event": "user", "text": "long ago"}'},
]  # fmt: skip


def write_log(events_engine: Engine, store: GatewayStore) -> None:
    with events_engine.begin() as connection:
        RASA_EVENTS.drop(connection, checkfirst=True)
        RASA_EVENTS.create(connection)
        blank = {"intent_name": None, "action_name": None}
        rows = [rasa_row(e) for e in EVENTS] + [{**blank, **row} for row in NOISE]
        connection.execute(insert(RASA_EVENTS), rows)
    db = store.database
    for h in FACTS.handoffs:
        db.execute(
            "INSERT INTO handoffs (id, conversation_id, channel, queue, status, trigger_rule, "
            "trigger_detail, summary, slots, created_at, resolved_at) "
            "VALUES (?, ?, ?, 'customers', 'resolved', ?, '', '', '{}', ?, ?)",
            (h.id, h.conversation_id, h.channel, h.rule, h.created_at, h.resolved_at),
        )
    for reply in FACTS.agent_replies:
        db.execute(
            "INSERT INTO transcript (conversation_id, role, body, created_at) "
            'VALUES (?, \'agent\', \'{"text": "Hi", "agent": "alice"}\', ?)',
            (reply.conversation_id, reply.at),
        )
    # Not agent replies, or written before the conversation's handoff: never read.
    for conversation, role, at in (("web:b", "user", DAY + 300), ("web:b", "bot", DAY + 305),
                                   ("web:a", "agent", DAY + 120)):  # fmt: skip
        db.execute(
            "INSERT INTO transcript (conversation_id, role, body, created_at) "
            "VALUES (?, ?, '{}', ?)",
            (conversation, role, at),
        )
    for rating in FACTS.ratings:
        db.execute(
            "INSERT INTO csat (handoff_id, conversation_id, agent, score, created_at) "
            "VALUES (?, 'x', 'alice', ?, ?)",
            (rating.handoff_id, rating.score, rating.at),
        )

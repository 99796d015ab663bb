"""The analytics figures, computed from typed records alone (no database, no clock).

A *conversation* is one Rasa session of one sender: it begins at a ``session_started`` event
(Rasa starts a new one after 60 minutes of silence, bot/domain/core.yml) and counts from its
first user message, on that UTC day. A handoff belongs to the sender's conversation that was
going on when it was opened (its last user message at most SESSION_GAP_SECONDS before); a
handoff the gateway opened before Rasa saw any message of the conversation (a sensitive
topic in the first message, say) is a conversation of its own. Every figure covers the
conversations that started in the query's range on its channel, and their handoffs,
ratings and agent replies. docs/analytics.md defines each figure.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rapidfuzz import fuzz

from connectors.analytics.query import AnalyticsQuery
from connectors.analytics.records import (
    ACTION,
    BOT,
    DOCUMENT_ACTION,
    DONT_KNOW_RESPONSE,
    FALLBACK_ACTIONS,
    FALLBACK_RESPONSES,
    REPEATED_FALLBACK,
    SESSION_STARTED,
    USER,
    GatewayFacts,
    HandoffFact,
    TrackerEvent,
    channel_of,
)
from connectors.analytics.report import (
    AnalyticsReport,
    Count,
    Csat,
    DayFigures,
    FirstResponse,
    UnansweredQuestion,
)
from contracts.redaction import redact

# Rasa's session_expiration_time (bot/domain/core.yml), in seconds.
SESSION_GAP_SECONDS = 3600.0
TOP_INTENTS = 10
TOP_UNANSWERED = 20
# Two unanswered questions are one topic from this rapidfuzz token_sort_ratio (0-100) on.
SIMILAR_QUESTIONS = 85.0
MAX_QUESTION_CHARS = 300
MAX_EXAMPLES = 3
SCORES = ("1", "2", "3", "4", "5")
_WORD = re.compile(r"\w+")
_RANK = {SESSION_STARTED: 0, USER: 1}


@dataclass
class Turn:
    """A user message and what the bot did about it, up to the next user message."""

    timestamp: float
    intent: str | None
    text: str | None
    actions: set[str] = field(default_factory=set)
    responses: set[str] = field(default_factory=set)
    handoff_rules: set[str] = field(default_factory=set)

    @property
    def fallback(self) -> bool:
        """The bot could not answer (records.py lists what counts)."""
        return bool(
            self.actions & set(FALLBACK_ACTIONS)
            or self.responses & set(FALLBACK_RESPONSES)
            or REPEATED_FALLBACK in self.handoff_rules
        )

    @property
    def document_question(self) -> bool:
        return DOCUMENT_ACTION in self.actions

    @property
    def dont_know(self) -> bool:
        """A document question the documents did not answer."""
        return self.document_question and (
            DONT_KNOW_RESPONSE in self.responses or REPEATED_FALLBACK in self.handoff_rules
        )


@dataclass
class Conversation:
    """One session of one sender, with its turns and the handoffs opened during it."""

    sender_id: str
    channel: str
    started_at: float
    turns: list[Turn] = field(default_factory=list)
    handoffs: list[HandoffFact] = field(default_factory=list)

    def active_before(self, moment: float) -> float | None:
        """When the user last wrote at or before ``moment`` (None: not yet)."""
        times = [turn.timestamp for turn in self.turns if turn.timestamp <= moment]
        return max(times) if times else None


def conversations_of(events: Iterable[TrackerEvent]) -> list[Conversation]:
    """Rasa's events as conversations: per sender, in time order, split at each
    ``session_started``; sessions without a user message are left out.

    Example:
        >>> [c.sender_id for c in conversations_of([TrackerEvent("web:a", "user", 1.0)])]
        ['web:a']
    """
    by_sender: dict[str, list[TrackerEvent]] = defaultdict(list)
    for event in events:
        by_sender[event.sender_id].append(event)
    conversations: list[Conversation] = []
    for sender, sender_events in by_sender.items():
        current: Conversation | None = None
        for event in sorted(sender_events, key=_in_time):
            if event.type_name == SESSION_STARTED:
                current = None
            elif event.type_name == USER:
                if current is None:
                    current = Conversation(sender, channel_of(sender), event.timestamp)
                    conversations.append(current)
                current.turns.append(Turn(event.timestamp, event.intent, event.text))
            elif current is not None and current.turns:
                _note(current.turns[-1], event)
    return conversations


def compute_report(
    events: Iterable[TrackerEvent], facts: GatewayFacts, query: AnalyticsQuery
) -> AnalyticsReport:
    """Every figure of the page for the conversations ``query`` selects.

    Args:
        events: Rasa's events of (at least) the query's range, any order.
        facts: the gateway's handoffs, agent replies and ratings of that range.
        query: the UTC days and the channel.

    Returns:
        The report; rates are None where nothing was counted.
    """
    conversations = conversations_of(events)
    conversations += _attach(conversations, facts.handoffs)
    chosen = [
        c
        for c in conversations
        if query.start_ts <= c.started_at < query.end_ts
        and (query.channel is None or c.channel == query.channel)
    ]
    chosen.sort(key=lambda c: (c.started_at, c.sender_id))
    total = len(chosen)
    handoffs = [h for c in chosen for h in c.handoffs]
    turns = [t for c in chosen for t in c.turns]
    with_handoff = sum(1 for c in chosen if c.handoffs)
    ended_unanswered = sum(1 for c in chosen if not c.handoffs and c.turns and c.turns[-1].fallback)
    contained = total - with_handoff - ended_unanswered
    fallbacks = sum(1 for t in turns if t.fallback)
    documents = [t for t in turns if t.document_question]
    dont_know = [t for t in documents if t.dont_know]
    intents = _counts(Counter(t.intent or "unknown" for t in turns), len(turns))
    return AnalyticsReport(
        start=query.start.isoformat(),
        end=query.end.isoformat(),
        channel=query.channel,
        conversations=total,
        per_day=_per_day(chosen, query),
        per_channel=_counts(Counter(c.channel for c in chosen), total),
        contained=contained,
        containment_rate=_rate(contained, total),
        with_handoff=with_handoff,
        handoff_rate=_rate(with_handoff, total),
        ended_unanswered=ended_unanswered,
        handoffs=len(handoffs),
        handoff_reasons=_counts(Counter(h.rule for h in handoffs), len(handoffs)),
        user_turns=len(turns),
        top_intents=intents[:TOP_INTENTS],
        fallback_turns=fallbacks,
        fallback_rate=_rate(fallbacks, len(turns)),
        document_questions=len(documents),
        dont_know=len(dont_know),
        dont_know_rate=_rate(len(dont_know), len(documents)),
        unanswered_questions=group_questions(
            [(t.text, t.timestamp) for t in dont_know if t.text and not t.text.startswith("/")]
        ),
        csat=_csat(facts, {h.id for h in handoffs}),
        first_response=_first_response(handoffs, facts),
    )


def group_questions(asked: Sequence[tuple[str, float]]) -> list[UnansweredQuestion]:
    """Unanswered questions grouped into topics, most asked first (TOP_UNANSWERED at most).

    Wordings that are the same but for case, punctuation and spacing are one; wordings whose
    rapidfuzz ``token_sort_ratio`` reaches SIMILAR_QUESTIONS join the topic asked more.
    Emails, phone numbers and postcodes are redacted.

    Example:
        >>> [(q.text, q.count) for q in group_questions([("Gift cards?", 1.0),
        ...     ("gift cards", 2.0), ("Do you ship to Mars", 3.0)])]
        [('Gift cards?', 2), ('Do you ship to Mars', 1)]
    """
    wordings: dict[str, Counter[str]] = defaultdict(Counter)
    last: dict[str, float] = {}
    for text, at in asked:
        shown = redact(" ".join(text.split()))[:MAX_QUESTION_CHARS]
        key = " ".join(_WORD.findall(shown.lower()))
        if not key:
            continue
        wordings[key][shown] += 1
        last[key] = max(at, last.get(key, at))
    topics: list[tuple[str, list[str]]] = []
    for key in sorted(wordings, key=lambda k: (-sum(wordings[k].values()), k)):
        for lead, members in topics:
            if fuzz.token_sort_ratio(key, lead) >= SIMILAR_QUESTIONS:
                members.append(key)
                break
        else:
            topics.append((key, [key]))
    grouped: list[UnansweredQuestion] = []
    for _, members in topics:
        counted: Counter[str] = Counter()
        for key in members:
            counted.update(wordings[key])
        ranked = sorted(counted, key=lambda w: (-counted[w], w))
        grouped.append(
            UnansweredQuestion(
                text=ranked[0],
                count=sum(counted.values()),
                last_asked=max(last[key] for key in members),
                examples=ranked[1 : 1 + MAX_EXAMPLES],
            )
        )
    grouped.sort(key=lambda q: (-q.count, -q.last_asked, q.text))
    return grouped[:TOP_UNANSWERED]


def _in_time(event: TrackerEvent) -> tuple[float, int]:
    """Time order; at the same instant a session starts before its first message, and a
    message comes before what the bot did about it."""
    return event.timestamp, _RANK.get(event.type_name, 2)


def _note(turn: Turn, event: TrackerEvent) -> None:
    if event.type_name == ACTION and event.action:
        turn.actions.add(event.action)
    elif event.type_name == BOT:
        if event.response:
            turn.responses.add(event.response)
        if event.handoff_rule:
            turn.handoff_rules.add(event.handoff_rule)


def _attach(
    conversations: list[Conversation], handoffs: Iterable[HandoffFact]
) -> list[Conversation]:
    """Put each handoff in the conversation it was opened in; the conversations made for
    handoffs that have none."""
    by_sender: dict[str, list[Conversation]] = defaultdict(list)
    for conversation in conversations:
        by_sender[conversation.sender_id].append(conversation)
    made: list[Conversation] = []
    for handoff in sorted(handoffs, key=lambda h: (h.created_at, h.id)):
        home = None
        for candidate in by_sender[handoff.conversation_id]:
            active = candidate.active_before(handoff.created_at)
            going_on = active is not None and handoff.created_at - active <= SESSION_GAP_SECONDS
            if going_on and (home is None or candidate.started_at > home.started_at):
                home = candidate
        if home is None:
            channel = channel_of(handoff.conversation_id)
            home = Conversation(
                handoff.conversation_id,
                handoff.channel if channel == "other" else channel,
                handoff.created_at,
            )
            made.append(home)
            by_sender[handoff.conversation_id].append(home)
        home.handoffs.append(handoff)
    return made


def _per_day(conversations: Sequence[Conversation], query: AnalyticsQuery) -> list[DayFigures]:
    started: Counter[str] = Counter()
    escalated: Counter[str] = Counter()
    for conversation in conversations:
        day = datetime.fromtimestamp(conversation.started_at, UTC).date().isoformat()
        started[day] += 1
        escalated[day] += bool(conversation.handoffs)
    return [
        DayFigures(day.isoformat(), started[day.isoformat()], escalated[day.isoformat()])
        for day in query.day_list()
    ]


def _counts(counter: Counter[str], whole: int) -> list[Count]:
    """Most first, then by name; each with its share of ``whole``."""
    return [
        Count(name, count, _rate(count, whole))
        for name, count in sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    ]


def _csat(facts: GatewayFacts, handoff_ids: set[int]) -> Csat:
    scores = [r.score for r in facts.ratings if r.handoff_id in handoff_ids and 1 <= r.score <= 5]
    counted = Counter(str(score) for score in scores)
    return Csat(
        ratings=len(scores),
        average=statistics.fmean(scores) if scores else None,
        distribution={score: counted[score] for score in SCORES},
    )


def _first_response(handoffs: Sequence[HandoffFact], facts: GatewayFacts) -> FirstResponse:
    """Seconds from each handoff to the first agent reply in its conversation, before the
    conversation's next handoff."""
    replies: dict[str, list[float]] = defaultdict(list)
    for reply in facts.agent_replies:
        replies[reply.conversation_id].append(reply.at)
    opened: dict[str, list[float]] = defaultdict(list)
    for handoff in facts.handoffs:
        opened[handoff.conversation_id].append(handoff.created_at)
    waits: list[float] = []
    for handoff in handoffs:
        later = [t for t in opened[handoff.conversation_id] if t > handoff.created_at]
        until = min(later, default=float("inf"))
        answers = [t for t in replies[handoff.conversation_id] if handoff.created_at <= t < until]
        if answers:
            waits.append(min(answers) - handoff.created_at)
    return FirstResponse(
        answered=len(waits),
        unanswered=len(handoffs) - len(waits),
        median_seconds=statistics.median(waits) if waits else None,
    )


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None

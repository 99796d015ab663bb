"""The analytics figures computed from typed records, against answers worked out by hand
(tests/connectors/analytics_log.py tells the story of the log)."""

from __future__ import annotations

import random
from datetime import date

import pytest

from connectors.analytics.compute import (
    SESSION_GAP_SECONDS,
    compute_report,
    conversations_of,
    group_questions,
)
from connectors.analytics.query import AnalyticsQuery
from connectors.analytics.records import AgentReply, GatewayFacts, HandoffFact, channel_of
from connectors.analytics.report import Count, Csat, DayFigures, FirstResponse
from tests.connectors.analytics_log import DAY, EVENTS, FACTS, QUERY, session, user


def test_conversations_are_rasa_sessions_with_a_user_message() -> None:
    conversations = conversations_of(EVENTS)

    started = sorted((c.sender_id, c.started_at - DAY) for c in conversations)
    assert started == [
        ("rest:local:x", 400), ("slack:T1:U1", 86_500), ("telegram:1", 300), ("web:a", 100),
        ("web:a", 5000), ("web:b", 200), ("web:d", -1000),
    ]  # fmt: skip
    first_a = next(c for c in conversations if c.sender_id == "web:a" and c.started_at == DAY + 100)
    assert [t.intent for t in first_a.turns] == ["greet", "order_status", "thanks"]


def test_the_whole_report_matches_the_hand_computed_answers() -> None:
    report = compute_report(EVENTS, FACTS, QUERY)

    # 7 conversations: web:a twice, web:b, web:c (handoff only), telegram:1, rest:local:x,
    # slack; web:d is the day before.
    assert report.conversations == 7
    assert report.per_day == [DayFigures("2026-11-02", 6, 4), DayFigures("2026-11-03", 1, 0)]
    assert report.per_channel == [
        Count("web", 4, 4 / 7), Count("rest", 1, 1 / 7), Count("slack", 1, 1 / 7),
        Count("telegram", 1, 1 / 7),
    ]  # fmt: skip
    # Handed to a person: web:b, rest:local:x, web:c, web:a's second session.
    assert (report.with_handoff, report.handoff_rate) == (4, 4 / 7)
    # Left after a fallback without a person: telegram:1.
    assert report.ended_unanswered == 1
    # Contained: web:a's first session and slack.
    assert (report.contained, report.containment_rate) == (2, 2 / 7)
    assert report.handoffs == 4
    assert report.handoff_reasons == [
        Count("frustration", 1, 0.25), Count("repeated_fallback", 1, 0.25),
        Count("sensitive_topic:legal", 1, 0.25), Count("user_request", 1, 0.25),
    ]  # fmt: skip
    assert report.user_turns == 12
    assert report.top_intents == [
        Count("ask_document", 3, 0.25), Count("greet", 3, 0.25),
        Count("check_stock", 1, 1 / 12), Count("nlu_fallback", 1, 1 / 12),
        Count("order_status", 1, 1 / 12), Count("out_of_scope", 1, 1 / 12),
        Count("request_human", 1, 1 / 12), Count("thanks", 1, 1 / 12),
    ]  # fmt: skip
    # Fallbacks: web:b twice, telegram's out of scope, rest's low-confidence question.
    assert (report.fallback_turns, report.fallback_rate) == (4, 4 / 12)
    # Document questions: web:b twice, telegram's warranty (answered), rest's nlu_fallback.
    assert (report.document_questions, report.dont_know, report.dont_know_rate) == (4, 3, 0.75)
    assert [(q.text, q.count, q.last_asked - DAY, q.examples)
            for q in report.unanswered_questions] == [
        ("Do you sell gift cards", 2, 220, ["do you sell gift cards?"]),
        ("asdf qwer", 1, 400, []),
    ]  # fmt: skip
    # Ratings of the handoffs in range: 4 and 2 (web:d's 5 is out of range).
    assert report.csat == Csat(2, 3.0, {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0})
    # First replies 90 s (web:b), 30 s (rest, not its second at 89 s), 300 s (web:a); web:c
    # has none.
    assert report.first_response == FirstResponse(answered=3, unanswered=1, median_seconds=90)


def test_a_channel_filter_counts_that_channel_only() -> None:
    web = AnalyticsQuery(QUERY.start, QUERY.end, "web")

    report = compute_report(EVENTS, FACTS, web)

    assert report.channel == "web"
    assert report.conversations == 4
    assert (report.with_handoff, report.contained, report.ended_unanswered) == (3, 1, 0)
    assert [c.name for c in report.handoff_reasons] == [
        "frustration", "repeated_fallback", "sensitive_topic:legal",
    ]  # fmt: skip
    assert (report.user_turns, report.fallback_turns, report.dont_know) == (6, 2, 2)
    assert report.csat.ratings == 1 and report.csat.average == 4.0
    assert report.first_response == FirstResponse(answered=2, unanswered=1, median_seconds=195)


def test_the_order_of_the_records_does_not_matter() -> None:
    shuffled = list(EVENTS)
    random.Random(7).shuffle(shuffled)
    facts = GatewayFacts(
        handoffs=list(reversed(FACTS.handoffs)),
        agent_replies=list(reversed(FACTS.agent_replies)),
        ratings=list(reversed(FACTS.ratings)),
    )

    assert compute_report(shuffled, facts, QUERY) == compute_report(EVENTS, FACTS, QUERY)


def test_nothing_to_count_gives_zeros_and_no_rates() -> None:
    report = compute_report([], GatewayFacts(), QUERY)

    assert report.conversations == 0 and report.per_channel == []
    assert report.per_day == [DayFigures("2026-11-02", 0, 0), DayFigures("2026-11-03", 0, 0)]
    assert report.containment_rate is None and report.handoff_rate is None
    assert report.fallback_rate is None and report.dont_know_rate is None
    assert report.csat == Csat(0, None, {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0})
    assert report.first_response == FirstResponse(0, 0, None)


def test_a_handoff_long_after_the_last_message_is_a_conversation_of_its_own() -> None:
    events = [session("web:z", DAY + 10), user("web:z", DAY + 10, "greet", "hi")]
    late = HandoffFact(
        9, "web:z", "web", "sensitive_topic:legal", DAY + 10 + SESSION_GAP_SECONDS + 1
    )
    soon = HandoffFact(9, "web:z", "web", "sensitive_topic:legal", DAY + 10 + SESSION_GAP_SECONDS)

    apart = compute_report(events, GatewayFacts(handoffs=[late]), QUERY)
    together = compute_report(events, GatewayFacts(handoffs=[soon]), QUERY)

    assert (apart.conversations, apart.with_handoff, apart.contained) == (2, 1, 1)
    assert (together.conversations, together.with_handoff, together.contained) == (1, 1, 0)


def test_a_reply_counts_for_the_latest_handoff_before_it() -> None:
    first = HandoffFact(1, "web:q", "web", "user_request", DAY + 100, DAY + 150)
    second = HandoffFact(2, "web:q", "web", "user_request", DAY + 200)
    facts = GatewayFacts(handoffs=[first, second], agent_replies=[AgentReply("web:q", DAY + 260)])

    report = compute_report([], facts, QUERY)

    assert report.handoffs == 2
    assert report.first_response == FirstResponse(answered=1, unanswered=1, median_seconds=60)


def test_alike_questions_are_one_topic_and_personal_data_is_hidden() -> None:
    grouped = group_questions([
        ("Do you sell gift cards?", 1.0),
        ("do u sell gift cards", 2.0),
        ("do you sell gift cards", 3.0),
        ("can I write to jo@example.com about my invoice", 4.0),
        ("   ", 5.0),
    ])  # fmt: skip

    assert [(q.text, q.count, q.last_asked) for q in grouped] == [
        ("Do you sell gift cards?", 3, 3.0),
        ("can I write to [email] about my invoice", 1, 4.0),
    ]
    assert grouped[0].examples == ["do u sell gift cards", "do you sell gift cards"]


@pytest.mark.parametrize(
    ("conversation", "channel"),
    [("web:abc", "web"), ("rest:shop:me", "rest"), ("telegram:42", "telegram"),
     ("slack:T1:C2:U3", "slack"), ("console:erin", "console"), ("fax:1", "other"),
     ("u-1", "other")],
    ids=["web", "rest", "telegram", "slack", "console", "unknown prefix", "no prefix"],
)  # fmt: skip
def test_the_channel_comes_from_the_conversation_id(conversation: str, channel: str) -> None:
    assert channel_of(conversation) == channel


def test_the_range_decides_by_the_day_a_conversation_started() -> None:
    only_first_day = AnalyticsQuery(date(2026, 11, 2), date(2026, 11, 2))

    report = compute_report(EVENTS, FACTS, only_first_day)

    assert report.conversations == 6
    assert [d.day for d in report.per_day] == ["2026-11-02"]

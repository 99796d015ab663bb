"""A handoff request: what the action server builds, the gateway reads; anything else, None."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.handoff import (
    HANDOFF,
    REPEATED_FALLBACK,
    USER_REQUEST,
    RequestedHandoff,
    handoff_message,
    parse_handoff,
)


def test_a_built_request_reads_back_as_sent() -> None:
    message = handoff_message(USER_REQUEST, 0.97, "asked", {"order_number": "SO-100123"})

    assert list(message) == [HANDOFF]
    assert list(message[HANDOFF]) == ["rule", "score", "detail", "slots"]
    assert parse_handoff(message[HANDOFF]) == RequestedHandoff(
        USER_REQUEST, 0.97, "asked", {"order_number": "SO-100123"}
    )


def test_the_score_is_rounded_and_a_missing_detail_is_named_after_the_rule() -> None:
    requested = parse_handoff({"rule": REPEATED_FALLBACK, "score": 1, "slots": "not a dict"})

    assert requested == RequestedHandoff(REPEATED_FALLBACK, 1.0, "repeated fallback", None)
    assert parse_handoff({"rule": USER_REQUEST, "score": 0.123456}) == RequestedHandoff(
        USER_REQUEST, 0.123, "user request", None
    )


@pytest.mark.parametrize(
    "request_",
    [
        None,
        "user_request",
        [USER_REQUEST],
        {},
        {"rule": 3},
        {"rule": "made_up_rule"},
        {"rule": USER_REQUEST, "score": True},
        {"rule": USER_REQUEST, "score": "0.9"},
    ],
    ids=[
        "null",
        "string",
        "list",
        "no-rule",
        "rule-not-string",
        "unknown-rule",
        "bool-score",
        "string-score",
    ],
)
def test_a_malformed_request_reads_as_none(request_: Any) -> None:
    assert parse_handoff(request_) is None

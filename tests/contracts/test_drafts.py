"""An answer draft: the body the action server posts, checked by the gateway with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.drafts import MAX_DRAFT_CHARS, authorization, draft, parse_draft


def test_a_draft_reads_back_after_the_wire() -> None:
    body = json.dumps(draft("web:abc", "We refund returns.")).encode()

    assert json.loads(body) == {"conversation_id": "web:abc", "text": "We refund returns."}
    assert parse_draft(json.loads(body)) == (draft("web:abc", "We refund returns."), "")
    assert authorization("t0k") == "Bearer t0k"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (["web:a", "x"], "conversation_id must be a string"),
        ({"text": "x"}, "conversation_id must be a string"),
        ({"conversation_id": 5, "text": "x"}, "conversation_id must be a string"),
        ({"conversation_id": "", "text": "x"}, "conversation_id must be a string"),
        ({"conversation_id": "web:a"}, f"text must be 1-{MAX_DRAFT_CHARS} characters"),
        ({"conversation_id": "web:a", "text": " \n"}, "text must be 1-4000 characters"),
        ({"conversation_id": "web:a", "text": "x" * 4001}, "text must be 1-4000 characters"),
    ],
    ids=[
        "not-object",
        "no-conversation",
        "number",
        "empty-conversation",
        "no-text",
        "blank",
        "too-long",
    ],
)
def test_a_malformed_draft_says_what_is_wrong(data: Any, problem: str) -> None:
    assert parse_draft(data) == (None, problem)


def test_the_longest_draft_is_accepted() -> None:
    assert parse_draft(draft("web:a", "x" * MAX_DRAFT_CHARS))[0] is not None

"""The bearer token check every process's HTTP endpoints share."""

from __future__ import annotations

import pytest

from contracts.auth import bearer_matches


@pytest.mark.parametrize(
    ("header", "token", "expected"),
    [
        ("Bearer s3cret", "s3cret", True),
        ("bearer   s3cret ", "s3cret", True),
        ("Bearer s3cret", "", False),
        ("Bearer ", "", False),
        (None, "s3cret", False),
        ("Bearer s3cre", "s3cret", False),
        ("Bearer sécret", "s3cret", False),
        ("Token s3cret", "s3cret", False),
    ],
    ids=["exact", "case-and-spaces", "no-token", "both-empty", "no-header", "prefix",
         "non-ascii", "other-scheme"],
)  # fmt: skip
def test_a_bearer_token_matches_only_itself_in_constant_time(
    header: str | None, token: str, expected: bool
) -> None:
    assert bearer_matches(header, token) is expected

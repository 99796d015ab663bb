"""LiveDrafts on its own: turns, throttling, expiry, the cap and failed calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from connectors.drafts import LiveDrafts, draft_text


class Platform:
    """Records posts and edits; message ids count from 1; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []
        self.edits: list[tuple[str, int, str]] = []
        self.down = False

    async def post(self, address: str, text: str) -> int | None:
        if self.down:
            return None
        self.posts.append((address, text))
        return len(self.posts)

    async def edit(self, address: str, message: int, text: str) -> bool:
        if self.down:
            return False
        self.edits.append((address, message, text))
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drafts_on(platform: Platform, **options: Any) -> LiveDrafts[str, int]:
    return LiveDrafts(post=platform.post, edit=platform.edit, **options)


async def until(done: Callable[[], bool]) -> None:
    with anyio.fail_after(2):
        while not done():
            await anyio.sleep(0.01)


async def test_drafts_go_to_the_oldest_open_turn_of_the_conversation() -> None:
    platform = Platform()
    drafts = drafts_on(platform, interval=0)
    first = drafts.begin("web:a", "first")
    second = drafts.begin("web:a", "second")

    assert drafts.show("web:a", "answer one")
    await until(lambda: len(platform.posts) == 1)
    assert await drafts.finish(first) == 1
    assert drafts.show("web:a", "answer two")
    await until(lambda: len(platform.posts) == 2)

    assert await drafts.finish(second) == 2
    assert platform.posts == [("first", "answer one"), ("second", "answer two")]
    assert not drafts.show("web:a", "too late")
    assert drafts.tracked() == 0


async def test_an_identical_draft_is_not_shown_again() -> None:
    platform = Platform()
    drafts = drafts_on(platform, interval=0)
    turn = drafts.begin("c", "chat")

    for text in ("one", "one", "one two", "one two"):
        drafts.show("c", text)
        await anyio.sleep(0.05)
    await drafts.finish(turn)

    assert platform.posts == [("chat", "one")]
    assert platform.edits == [("chat", 1, "one two")]


async def test_an_older_draft_arriving_after_a_newer_one_does_not_step_back() -> None:
    """Through another replica a draft may overtake the one before it: the older text, which
    the newer one begins with, is skipped whether the newer is shown or still pending."""
    platform = Platform()
    drafts = drafts_on(platform, interval=0)
    turn = drafts.begin("c", "chat")

    for text in ("We refund", "We refund returns", "We refund", "We refund returns within"):
        drafts.show("c", text)
        await anyio.sleep(0.05)
    drafts.show("c", "We refund returns within 5 days")
    drafts.show("c", "We refund returns")  # late, while the newer one is still pending
    await anyio.sleep(0.05)
    await drafts.finish(turn)

    shown = [text for _, text in platform.posts] + [text for _, _, text in platform.edits]
    assert shown == [
        "We refund",
        "We refund returns",
        "We refund returns within",
        "We refund returns within 5 days",
    ]


async def test_a_turn_that_is_never_finished_stops_taking_drafts_after_the_ttl() -> None:
    platform, clock = Platform(), Clock()
    drafts = drafts_on(platform, interval=0, ttl=120, clock=clock)
    turn = drafts.begin("c", "chat")
    drafts.show("c", "one")
    await until(lambda: len(platform.posts) == 1)

    clock.now += 121

    assert not drafts.show("c", "one two")
    assert drafts.tracked() == 0
    # Its message is still the one the late answer replaces.
    assert await drafts.finish(turn) == 1


async def test_only_the_most_recent_conversations_are_tracked() -> None:
    platform = Platform()
    drafts = drafts_on(platform, interval=0, max_conversations=2)
    for conversation in ("a", "b", "c"):
        drafts.begin(conversation, conversation)

    assert drafts.tracked() == 2
    assert not drafts.show("a", "forgotten")
    assert drafts.show("c", "kept")


async def test_after_a_failed_call_the_turn_shows_no_more_drafts() -> None:
    platform = Platform()
    drafts = drafts_on(platform, interval=0)
    turn = drafts.begin("c", "chat")
    platform.down = True
    drafts.show("c", "one")
    await anyio.sleep(0.05)
    platform.down = False

    assert not drafts.show("c", "one two")
    await anyio.sleep(0.05)
    assert await drafts.finish(turn) is None
    assert platform.posts == [] and platform.edits == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interval": -1}, "interval must be 0 or more seconds, got -1"),
        ({"ttl": 0}, "ttl must be greater than 0 seconds, got 0"),
        ({"max_conversations": 0}, "max_conversations must be at least 1, got 0"),
    ],
    ids=["interval", "ttl", "max-conversations"],
)
def test_bad_settings_are_refused_with_the_value(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        drafts_on(Platform(), **options)


def test_draft_text_keeps_the_marker_within_the_limit() -> None:
    assert draft_text("We refund returns.  ", 100) == "We refund returns. …"
    shown = draft_text("x" * 50, 10)
    assert len(shown) == 10 and shown.endswith(" …")

"""Answer drafts shown live on chat platforms that can edit a sent message (Telegram, Slack).

A channel opens a turn with ``begin`` before asking Rasa and closes it with ``finish`` once
the replies are in. The drafts the action server posts meanwhile (``show``) become one
message: the first is posted, later ones edit it, at most one call per ``interval`` and
always with the newest text (drafts in between are skipped). ``finish`` hands the channel
that message so the final answer can replace it instead of appearing twice. A draft for a
conversation with no open turn is dropped, so a late draft never touches the next turn.

Posting and editing run in a background task per turn: the action server waits for the
gateway to take each draft, and a slow platform must not slow the answer down. A draft is a
courtesy: when a call fails, the turn shows no more drafts and the answer is sent as usual.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio

from contracts.redaction import redact

logger = logging.getLogger("connectors")

# Where a conversation's messages go (a Telegram chat id; a Slack channel and thread).
A = TypeVar("A")
# One sent message (a Telegram message id; a Slack channel id and ts).
R = TypeVar("R")

MARKER = "…"
INTERVAL_SECONDS = 1.0
TTL_SECONDS = 120.0
MAX_CONVERSATIONS = 1000
FINISH_WAIT_SECONDS = 10.0


def draft_text(text: str, limit: int) -> str:
    """The draft as shown: at most ``limit`` characters, ending in a marker saying more is coming.

    Example:
        >>> draft_text("We refund returns within 5 days.", 4096)
        'We refund returns within 5 days. …'
    """
    return text[: limit - len(MARKER) - 1].rstrip() + " " + MARKER


@dataclass(eq=False)
class DraftTurn(Generic[A, R]):
    """One turn's draft: where it goes, the message showing it and the newest text to show."""

    conversation_id: str
    address: A
    started: float
    message: R | None = None
    shown: str | None = None
    pending: str | None = None
    shown_at: float = -math.inf
    failed: bool = False
    closed: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)
    worker: asyncio.Task[None] | None = None


class LiveDrafts(Generic[A, R]):
    """The open turns of one channel and the messages showing their drafts.

    Args:
        post: sends a new draft message and returns it, or None when that failed.
        edit: replaces a draft message's text and returns whether that worked.
        interval: least seconds between two calls for the same turn.
        ttl: seconds after which a turn that was never finished takes no more drafts.
        max_conversations: conversations tracked at most; the least recent are forgotten.

    Example:
        >>> drafts = LiveDrafts(post=send_draft, edit=edit_draft)
        >>> turn = drafts.begin("telegram:42", 42)
        >>> drafts.show("telegram:42", "We refund returns")  # posted in the background
        >>> message_id = await drafts.finish(turn)  # the final answer edits this message
    """

    def __init__(
        self,
        *,
        post: Callable[[A, str], Awaitable[R | None]],
        edit: Callable[[A, R, str], Awaitable[bool]],
        interval: float = INTERVAL_SECONDS,
        ttl: float = TTL_SECONDS,
        max_conversations: int = MAX_CONVERSATIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0:
            raise ValueError(f"interval must be 0 or more seconds, got {interval}")
        if ttl <= 0:
            raise ValueError(f"ttl must be greater than 0 seconds, got {ttl}")
        if max_conversations < 1:
            raise ValueError(f"max_conversations must be at least 1, got {max_conversations}")
        self._post = post
        self._edit = edit
        self.interval = interval
        self.ttl = ttl
        self.max_conversations = max_conversations
        self.clock = clock
        # Open turns per conversation, oldest first; the least recently begun conversation first.
        self._open: dict[str, list[DraftTurn[A, R]]] = {}

    def begin(self, conversation_id: str, address: A) -> DraftTurn[A, R]:
        """Open a turn of the conversation; its drafts go to ``address``."""
        self._expire()
        turn: DraftTurn[A, R] = DraftTurn(conversation_id, address, started=self.clock())
        self._open[conversation_id] = [*self._open.pop(conversation_id, []), turn]
        while len(self._open) > self.max_conversations:
            for stale in self._open.pop(next(iter(self._open))):
                self._close(stale)
        return turn

    def show(self, conversation_id: str, text: str) -> bool:
        """Take ``text`` as the newest draft of the conversation's oldest open turn.

        Rasa answers a conversation's messages one at a time, in order, so the oldest open
        turn is the one being answered. An older draft arriving after a newer one (a text the
        turn's newer one begins with) is skipped. Returns False when the draft is dropped: no
        turn is open, or an earlier call of this turn failed.
        """
        self._expire()
        open_turns = self._open.get(conversation_id)
        if not open_turns or open_turns[0].failed:
            return False
        turn = open_turns[0]
        if any(
            taken is not None and taken != text and taken.startswith(text)
            for taken in (turn.pending, turn.shown)
        ):
            # A draft only grows: one this turn's newer text begins with arrived late (by
            # way of another replica, connectors/draft_relay.py) and would step back.
            return True
        turn.pending = text
        if turn.worker is None or turn.worker.done():
            turn.worker = asyncio.create_task(self._run(turn))
        return True

    async def finish(self, turn: DraftTurn[A, R]) -> R | None:
        """Close the turn; return the message showing its draft, or None if none was posted.

        A call still in flight is waited for (at most FINISH_WAIT_SECONDS), so a draft posted
        at the last moment is replaced by the answer rather than left next to it.
        """
        open_turns = self._open.get(turn.conversation_id, [])
        if turn in open_turns:
            open_turns.remove(turn)
            if not open_turns:
                del self._open[turn.conversation_id]
        self._close(turn)
        with anyio.move_on_after(FINISH_WAIT_SECONDS):
            async with turn.busy:
                return turn.message
        return None

    def tracked(self) -> int:
        """How many conversations have an open turn."""
        return len(self._open)

    def _close(self, turn: DraftTurn[A, R]) -> None:
        turn.closed = True
        turn.pending = None
        turn.wake.set()

    def _expire(self) -> None:
        oldest = self.clock() - self.ttl
        for conversation_id, open_turns in list(self._open.items()):
            for stale in [turn for turn in open_turns if turn.started < oldest]:
                open_turns.remove(stale)
                self._close(stale)
            if not open_turns:
                del self._open[conversation_id]

    async def _run(self, turn: DraftTurn[A, R]) -> None:
        """Show the turn's newest draft until none is pending or the turn is closed."""
        try:
            while turn.pending is not None and not turn.closed:
                wait = turn.shown_at + self.interval - self.clock()
                if wait > 0:
                    with anyio.move_on_after(wait):
                        await turn.wake.wait()
                    continue
                text, turn.pending = turn.pending, None
                if text == turn.shown:
                    continue
                async with turn.busy:
                    if turn.closed:
                        return
                    if turn.message is None:
                        turn.message = await self._post(turn.address, text)
                        done = turn.message is not None
                    else:
                        done = await self._edit(turn.address, turn.message, text)
                turn.shown_at = self.clock()
                if not done:
                    turn.failed = True
                    return
                turn.shown = text
        except Exception:
            turn.failed = True
            logger.exception(
                "answer draft for %s failed; the answer is sent as usual",
                redact(turn.conversation_id),
            )

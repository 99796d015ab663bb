"""Answer drafts passed between the gateway's replicas through Redis pub/sub.

The action server posts drafts through the balancer, so a Telegram or Slack draft may reach a
replica other than the one answering its turn. With SOCKETIO_REDIS_URL set, a replica whose
channels do not show a ``telegram:…`` or ``slack:…`` draft (no open turn here) publishes it
on ``<prefix>:drafts``: JSON with the conversation id, the text and the replica's random id.
Every replica listens there and hands the drafts of the others to its own channels, which
show them only for their own open turns and never publish them again. Web chat drafts are
not relayed: Socket.IO's Redis manager already reaches a window on any replica.

The drafts of a turn come one after the other (the action server waits for each answer), and
each is published on one connection before it is answered, so the replica holding the turn
receives them in order. (One the balancer sends straight to that replica can overtake one
still on its way through Redis; a draft only grows, so the late, shorter one is skipped:
connectors/drafts.py.) A draft is a
courtesy: while Redis does not answer, drafts that need another replica are dropped (logged
once per outage) and the answer arrives whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Any, TypedDict

from connectors.streaming import DraftSink
from contracts.drafts import MAX_DRAFT_CHARS
from contracts.redaction import redact

logger = logging.getLogger("connectors")

# Channels whose drafts only the replica with the open turn can show.
RELAYED_CHANNELS = ("telegram", "slack")
# The action server gives up on a draft after 1 s (actions/streaming.py): publish well within.
PUBLISH_TIMEOUT = 0.5
# After a failed publish, drafts are dropped without trying for this long, so that a Redis
# that does not answer costs one timeout now and then, not one per draft.
PAUSE_AFTER_FAILURE = 5.0
# The listener's waits between attempts to subscribe: doubled from the first to the last.
FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 30.0


class RelayedDraft(TypedDict):
    """A draft on ``<prefix>:drafts``."""

    conversation_id: str
    text: str
    replica: str


class DraftRelay:
    """Shows drafts on this replica, or passes them to the replica holding their turn.

    Args:
        url: ``redis://user@host:port/db``, the one the web chat shares (SOCKETIO_REDIS_URL).
        sink: this replica's channels (``route_drafts``); returns whether a draft was shown.
        prefix: the channel is ``<prefix>:drafts``.
        password: the account's password, apart from the URL (one in the URL wins).
        clock: seconds, for the pause after a failed publish.

    Example:
        >>> relay = DraftRelay("redis://u@127.0.0.1:6379/1", sink=route_drafts(channels),
        ...                    prefix="acme", password="pw")
        >>> relay.start()  # in the gateway's lifespan
        >>> routes.append(stream_route(settings.internal_token, relay.show))
        >>> await relay.stop()
    """

    def __init__(
        self,
        url: str,
        *,
        sink: DraftSink,
        prefix: str,
        password: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis
        import redis.asyncio
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.channel = f"{prefix}:drafts"
        self.replica = secrets.token_hex(8)
        self._local = sink
        self._clock = clock
        # Both retry once at once, on a fresh connection, when Redis closed theirs (a
        # restart); longer outages are the relay's to wait out.
        once = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
        # One connection, so drafts go out in the order they came in.
        self._publisher = redis.asyncio.Redis.from_url(
            url,
            password=password or None,
            single_connection_client=True,
            socket_timeout=PUBLISH_TIMEOUT,
            socket_connect_timeout=PUBLISH_TIMEOUT,
            retry=once,
        )
        # No read timeout: the subscription waits as long as it takes for the next draft.
        self._subscriber = redis.asyncio.Redis.from_url(
            url,
            password=password or None,
            socket_timeout=None,
            socket_connect_timeout=2.0,
            retry=once,
        )
        self._task: asyncio.Task[None] | None = None
        self._paused_until = -math.inf
        self._publish_down = False
        self._listen_down = False

    def start(self) -> None:
        """Listen for the drafts of other replicas in a background task, until ``stop``."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._listen_forever(), name="draft-relay"
            )

    async def stop(self) -> None:
        """Stop listening and close both connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._publisher.aclose()
        await self._subscriber.aclose()

    async def show(self, conversation_id: str, text: str) -> bool:
        """The sink of ``POST /internal/stream``: show the draft here, else publish it for
        the other replicas when it is a Telegram or Slack one. Returns whether it was shown
        here; never raises for Redis."""
        if await self._local(conversation_id, text):
            return True
        if conversation_id.partition(":")[0] in RELAYED_CHANNELS:
            draft = RelayedDraft(conversation_id=conversation_id, text=text, replica=self.replica)
            await self._publish(draft)
        return False

    async def receive(self, data: bytes | str) -> None:
        """Hand a draft from the channel to this replica's channels; ignore anything else."""
        try:
            draft: Any = json.loads(data)
        except ValueError:  # UnicodeDecodeError included
            draft = None
        if not _valid(draft):
            logger.warning(
                "ignored a malformed answer draft on %s (%d bytes)", self.channel, len(data)
            )
            return
        if draft["replica"] == self.replica:
            return  # published here because no turn here wanted it
        try:
            await self._local(draft["conversation_id"], draft["text"])
        except Exception:
            logger.exception(
                "relayed answer draft for %s not shown", redact(draft["conversation_id"])
            )

    async def _publish(self, draft: RelayedDraft) -> None:
        import redis

        if self._clock() < self._paused_until:
            return
        try:
            await self._publisher.publish(self.channel, json.dumps(draft))
        except (redis.RedisError, OSError) as error:
            self._paused_until = self._clock() + PAUSE_AFTER_FAILURE
            if not self._publish_down:
                logger.warning(
                    "answer drafts for other replicas dropped until Redis answers again: %s",
                    error,
                )
                self._publish_down = True
            return
        if self._publish_down:
            logger.info("answer drafts passed to other replicas through Redis again")
            self._publish_down = False

    async def _listen_forever(self) -> None:
        import redis

        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                async with self._subscriber.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    while True:
                        message = await pubsub.get_message(timeout=None)
                        if message is None:
                            continue
                        if message["type"] == "message":
                            await self.receive(message["data"])
                        elif message["type"] == "subscribe":
                            # Confirmed (a refusal raises instead): listening from here on.
                            delay = FIRST_RETRY_SECONDS
                            if self._listen_down:
                                logger.info("receiving the answer drafts of other replicas again")
                                self._listen_down = False
            except (redis.RedisError, OSError) as error:
                if not self._listen_down:
                    logger.warning(
                        "not receiving the answer drafts of other replicas until Redis "
                        "answers again: %s",
                        error,
                    )
                    self._listen_down = True
            except Exception:
                # Never the end of the relay, nor of the gateway: listen again.
                logger.exception("the answer draft relay failed; listening again")
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)


def _valid(draft: Any) -> bool:
    """Whether ``draft`` is a RelayedDraft of a relayed channel, with a text the gateway
    would have taken."""
    if not isinstance(draft, dict):
        return False
    conversation, text, replica = (draft.get(k) for k in ("conversation_id", "text", "replica"))
    return (
        isinstance(conversation, str)
        and conversation.partition(":")[0] in RELAYED_CHANNELS
        and isinstance(text, str)
        and bool(text.strip())
        and len(text) <= MAX_DRAFT_CHARS
        and isinstance(replica, str)
    )

"""The durable handoff queue: escalate, claim, reply, resolve, rate, and a live event stream.

Everything lives in the gateway's SQLite database (``GatewayStore``), so a gateway restart
loses nothing: the handoff, who owns the conversation, the user's messages waiting for an
agent and the agent's replies waiting for the user's channel. Creating a handoff and marking
the conversation human-owned happen in one transaction; a claim is one conditional UPDATE, so
of two agents claiming at once exactly one wins.

Usage::

    queue = HandoffQueue(store, delivery=delivery, tracker=rasa_client)
    handoff = await queue.escalate("web:abc", "web", Trigger("user_request", 0.97, "asked"))
    if await queue.claim(handoff.id, "alice"):
        await queue.agent_reply(handoff.id, "alice", "Hi, I'm Alice. Let me look at that.")
        await queue.resolve(handoff.id, "alice", note="refund approved")
"""

from __future__ import annotations

import asyncio
import builtins
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NotRequired, Protocol, TypedDict, cast, get_args

import anyio.to_thread

from connectors.database import IntegrityError
from connectors.handoff.delivery import Delivery
from connectors.handoff.errors import HandoffConflict, HandoffNotFound, InvalidHandoffInput
from connectors.handoff.facts import Source, handoff_slots
from connectors.handoff.hours import Availability, BusinessHours, availability
from connectors.handoff.relay import EventRef, EventRelay
from connectors.handoff.summary import (
    Summarizer,
    generated_summary,
    generator_settings,
    summarize,
)
from connectors.language import conversation_language
from connectors.messages import Button, OutgoingMessage
from connectors.store import GatewayStore, HistoryEntry, entry_body, entry_of
from connectors.validation import clean_text
from contracts.redaction import redact
from i18n.languages import Language
from i18n.texts import say

logger = logging.getLogger("connectors")

HandoffStatus = Literal["waiting", "assigned", "resolved"]
EventType = Literal["created", "claimed", "message", "updated", "resolved"]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
OPEN_STATUSES: tuple[HandoffStatus, ...] = ("waiting", "assigned")
DEFAULT_QUEUE = "customers"
MAX_AGENT_NAME = 64
MAX_REPLY_CHARS = 4000
MAX_NOTE_CHARS = 2000
SUBSCRIBER_BUFFER = 1000
SUMMARY_HISTORY = 50
CSAT_PAYLOAD_PREFIX = "/csat "

# What the user is told when a person takes over and when the bot takes back.
JOINED = "{agent} from our team has joined the conversation and will reply here."


def csat_buttons(language: Language = "en") -> list[Button]:
    """The 1-5 rating buttons, their ends named in ``language``."""
    titles = {1: say("notice.csat_poor", language), 5: say("notice.csat_excellent", language)}
    return [
        Button(title=titles.get(score, str(score)), payload=f"{CSAT_PAYLOAD_PREFIX}{score}")
        for score in range(1, 6)
    ]


@dataclass(frozen=True)
class Trigger:
    """Why a conversation was escalated, as recorded in the handoff.

    ``rule`` is ``user_request``, ``repeated_fallback``, ``write_not_supported``, ``frustration``,
    ``sensitive_topic:<name>`` or ``agent_command``; ``score`` the rule's confidence when it
    has one; ``detail`` a sentence for the agent, e.g.
    ``frustration 0.91 >= 0.80 on 'this is useless...'``.
    """

    rule: str
    score: float | None
    detail: str


@dataclass(frozen=True)
class Handoff:
    """One escalation of a conversation to a person, as stored.

    ``slots`` are what the agent may know (`connectors.handoff.facts.handoff_slots`): the
    verified customer and records, and the numbers asked about without proof.
    ``available`` says whether an agent could answer when it was created (in business hours
    with someone online); ``note`` and ``resolved_by`` are set when it is resolved.
    """

    id: int
    conversation_id: str
    channel: str
    queue: str
    priority: int
    status: HandoffStatus
    trigger: Trigger
    summary: str
    slots: dict[str, Any]
    agent: str | None
    created_at: float
    assigned_at: float | None
    resolved_at: float | None
    available: bool = True
    note: str = ""
    resolved_by: str | None = None

    @property
    def open(self) -> bool:
        return self.status != "resolved"


class QueueEvent(TypedDict):
    """One live event: ``created``, ``claimed`` (with ``pending``: the user's messages no
    agent has seen yet), ``message`` (a user or agent message in an open handoff, in
    ``message``), ``updated`` (a better summary arrived) or ``resolved``."""

    type: EventType
    handoff: Handoff
    message: NotRequired[HistoryEntry]
    pending: NotRequired[builtins.list[HistoryEntry]]


@dataclass(frozen=True)
class Ownership:
    """Who answers a conversation now, and whether a rating of a finished handoff is due."""

    owner: Literal["bot", "human"] = "bot"
    handoff_id: int | None = None
    csat_handoff_id: int | None = None


# Messages as the handoff inbox holds them: (transcript id, entry), oldest first.
Held = builtins.list[tuple[int, HistoryEntry]]


class TrackerNotes(Protocol):
    """The part of Rasa the queue uses: read a conversation's slots, append events to it."""

    async def slots(self, conversation_id: str) -> dict[str, Any]: ...

    async def append_events(
        self, conversation_id: str, events: builtins.list[dict[str, Any]]
    ) -> None: ...


AgentsOnline = Callable[[], int]


COLLEAGUE = "A colleague"


def default_public_name(agent: str) -> str:
    """An agent's name as customers see it: the username, but never a platform id."""
    return COLLEAGUE if agent.startswith("slack:") else agent


def no_agents_online() -> int:
    """The default until the agent console is wired: nobody is online."""
    return 0


@dataclass
class Subscription:
    """A live view of queue events; iterate it, and close it (or use ``async with``).

    Registered when ``HandoffQueue.subscribe()`` returns, so no event published after that
    call is missed. A subscriber that falls ``SUBSCRIBER_BUFFER`` events behind loses the
    oldest ones (logged); ``HandoffQueue.list()`` gives the current state to resync.
    """

    _queue: HandoffQueue
    local_only: bool = False
    _events: asyncio.Queue[QueueEvent] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SUBSCRIBER_BUFFER)
    )
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    closed: bool = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> QueueEvent:
        if self.closed:
            raise StopAsyncIteration
        return await self._events.get()

    async def get(self, timeout: float | None = None) -> QueueEvent:
        """The next event, waiting at most ``timeout`` seconds (TimeoutError after)."""
        async with asyncio.timeout(timeout):
            return await self._events.get()

    def close(self) -> None:
        self.closed = True
        self._queue._subscribers.discard(self)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _put(self, event: QueueEvent) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._offer(event)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._offer, event)

    def _offer(self, event: QueueEvent) -> None:
        if self._events.full():
            self._events.get_nowait()
            logger.warning("handoff subscriber is %d events behind; dropped the oldest",
                           SUBSCRIBER_BUFFER)  # fmt: skip
        self._events.put_nowait(event)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


_COLUMNS = (
    "id, conversation_id, channel, queue, priority, status, trigger_rule, trigger_score, "
    "trigger_detail, summary, slots, agent, created_at, assigned_at, resolved_at, available, "
    "note, resolved_by"
)


class HandoffQueue:
    """Handoffs from the bot to people, stored in the gateway's database.

    Args:
        store: the gateway's store (one SQLite file for transcripts and handoffs).
        delivery: sends agent replies and notices to the user's channel; a new ``Delivery``
            on the same store when omitted (messages then wait in the outbox).
        tracker: Rasa, to read the slots of a conversation escalated by the gateway and to
            note the hand-back in its tracker; None leaves Rasa alone.
        hours: the support team's business hours.
        agents_online: how many agents are online now (the console wires its session count;
            the default says nobody, so users are told honestly that nobody is there).
        summarizer: turns transcript, slots and trigger into the agent's summary.
        generate_summary: also ask the project's generator (models/) for a one-sentence
            summary after the handoff is created (HANDOFF_SUMMARY=generator); an
            ``updated`` event follows when it arrives.
        secret: the key of the signed verification records in the tracker (or a function
            returning it); by default ``VERIFICATION_SECRET``, shared with the action server.
        clock: seconds since the epoch (tests pass a fixed clock).
    """

    def __init__(
        self,
        store: GatewayStore,
        *,
        delivery: Delivery | None = None,
        tracker: TrackerNotes | None = None,
        hours: BusinessHours | None = None,
        agents_online: AgentsOnline = no_agents_online,
        summarizer: Summarizer = summarize,
        generate_summary: bool = False,
        secret: bytes | Callable[[], bytes] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.delivery = delivery or Delivery(store)
        self.tracker = tracker
        self.hours = hours or BusinessHours()
        self.agents_online = agents_online
        # How an agent is named to customers (the console wires display names in).
        self.public_name: Callable[[str], str] = default_public_name
        self.summarizer = summarizer
        self.generate_summary = generate_summary
        # Read once here, not for each handoff; None: summaries stay extractive.
        self._generator = generator_settings() if generate_summary else None
        self.secret = secret if secret is not None else _verification_secret
        self.clock = clock
        self._subscribers: set[Subscription] = set()
        self._background: set[asyncio.Task[None]] = set()
        # The events of other gateway replicas (PostgreSQL only).
        self.relay = EventRelay(store, self._relayed, self._read_event)

    # The API the agent side uses.

    async def escalate(
        self,
        conversation_id: str,
        channel: str,
        trigger: Trigger,
        *,
        slots: dict[str, Any] | None = None,
        queue: str = DEFAULT_QUEUE,
        priority: int = 0,
    ) -> Handoff:
        """Open a handoff and make the conversation human-owned, in one transaction.

        Idempotent: when the conversation already has an open handoff, that one is returned
        and nothing is created. ``slots`` are the action server's handoff payload; without
        them the conversation's slots are read from Rasa (when Rasa answers; an escalation
        never waits on, or fails because of, Rasa). Either way only what the conversation
        verified is kept as verified (`connectors.handoff.facts.handoff_slots`).
        """
        existing = await self.open_for(conversation_id)
        if existing is not None:
            return existing
        source: Source = "action"
        if slots is None:
            slots, source = await self._rasa_slots(conversation_id), "tracker"
        slots = handoff_slots(
            slots, conversation_id=conversation_id, source=source, secret=self.secret,
            now=self.clock(),
        )  # fmt: skip
        history = await self.store.history(conversation_id, limit=SUMMARY_HISTORY)
        summary = self.summarizer(history, slots, trigger)
        now_available = await self.availability()
        handoff_id, created = await self.store._run(
            self._create, conversation_id, channel, queue, priority, trigger, summary,
            slots, now_available.open,
        )  # fmt: skip
        handoff = await self._require(handoff_id)
        if created:
            logger.info(
                "handoff %d created for %s: %s (score %s), queue %s, %s",
                handoff.id, redact(conversation_id), trigger.rule, trigger.score, queue,
                now_available.reason,
            )  # fmt: skip
            self._publish(QueueEvent(type="created", handoff=handoff))
            if self._generator is not None:
                task = asyncio.create_task(self._refine_summary(handoff, history))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        return handoff

    async def open_for(self, conversation_id: str) -> Handoff | None:
        """The conversation's waiting or assigned handoff, if it has one."""
        rows = await self.store._run(
            self.store._query,
            f"SELECT {_COLUMNS} FROM handoffs WHERE conversation_id = ? AND status != 'resolved'",
            (conversation_id,),
        )
        return _handoff(rows[0]) if rows else None

    async def get(self, handoff_id: int) -> Handoff | None:
        """The handoff with this id, whatever its status."""
        rows = await self.store._run(
            self.store._query, f"SELECT {_COLUMNS} FROM handoffs WHERE id = ?", (handoff_id,)
        )
        return _handoff(rows[0]) if rows else None

    async def list(
        self, statuses: Iterable[HandoffStatus] = OPEN_STATUSES
    ) -> builtins.list[Handoff]:
        """Handoffs in ``statuses``, highest priority first, then oldest first."""
        wanted = tuple(statuses)
        for status in wanted:
            if status not in ("waiting", "assigned", "resolved"):
                raise InvalidHandoffInput(
                    f"status must be waiting, assigned or resolved, got {status!r}"
                )
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        rows = await self.store._run(
            self.store._query,
            f"SELECT {_COLUMNS} FROM handoffs WHERE status IN ({marks}) "
            "ORDER BY priority DESC, created_at ASC, id ASC",
            wanted,
        )
        return [_handoff(row) for row in rows]

    async def claim(self, handoff_id: int, agent: str) -> bool:
        """Assign a waiting handoff to ``agent``; False if someone else got it first.

        Of any number of concurrent claims exactly one returns True. Claiming again a
        handoff one already holds returns True and changes nothing. The user is told who
        joined, and the ``claimed`` event carries the messages they left while waiting.

        Raises:
            HandoffNotFound: no handoff has this id.
            InvalidHandoffInput: the agent name is empty or too long.
        """
        agent = _agent_name(agent)
        won, pending = await self.store._run(self._claim, handoff_id, agent)
        handoff = await self._require(handoff_id)
        if not won:
            return handoff.status == "assigned" and handoff.agent == agent
        logger.info("handoff %d claimed by %s (%d messages waiting)", handoff_id, agent,
                    len(pending))  # fmt: skip
        self._publish_claimed(handoff, pending)
        name = await anyio.to_thread.run_sync(self.public_name, agent)
        await self._tell_user(handoff, OutgoingMessage(text=JOINED.format(agent=name)))
        return True

    async def assign(self, handoff_id: int, by: str, to: str) -> Handoff:
        """Give a handoff to agent ``to``: a waiting one by anyone, an assigned one by its holder.

        The user is told who joined; the ``claimed`` event carries the new agent and the
        messages left while it was waiting.

        Raises:
            HandoffNotFound: no handoff has this id.
            HandoffConflict: it is resolved, or assigned to someone other than ``by``.
            InvalidHandoffInput: an agent name is empty or too long.
        """
        by, to = _agent_name(by), _agent_name(to)
        moved, pending = await self.store._run(self._assign, handoff_id, by, to)
        handoff = await self._require(handoff_id)
        if not moved:
            reason = (
                "it is resolved; the bot answers this user again"
                if handoff.status == "resolved"
                else f"it is assigned to {handoff.agent}"
            )
            raise HandoffConflict(handoff_id, reason)
        logger.info("handoff %d assigned to %s by %s", handoff_id, to, by)
        self._publish_claimed(handoff, pending)
        name = await anyio.to_thread.run_sync(self.public_name, to)
        await self._tell_user(handoff, OutgoingMessage(text=JOINED.format(agent=name)))
        return handoff

    async def agent_reply(self, handoff_id: int, agent: str, text: str) -> None:
        """Record an agent's reply (transcript role ``agent``) and deliver it to the user.

        A reply to a waiting handoff claims it for ``agent`` first. Delivery is durable: a
        channel that is down gets the message when it is back (see ``Delivery``).

        Raises:
            HandoffNotFound: no handoff has this id.
            HandoffConflict: another agent holds the handoff, or it is resolved.
            InvalidHandoffInput: empty or over-long text, or a bad agent name.
        """
        agent = _agent_name(agent)
        body = clean_text(text)
        if not body:
            raise InvalidHandoffInput("a reply must not be empty")
        if len(body) > MAX_REPLY_CHARS:
            raise InvalidHandoffInput(
                f"a reply must be at most {MAX_REPLY_CHARS} characters, got {len(body)}"
            )
        handoff = await self._require(handoff_id)
        if handoff.status == "waiting":
            await self.claim(handoff_id, agent)
            handoff = await self._require(handoff_id)
        message = OutgoingMessage(text=body, custom={"agent": agent})
        # The check and the writes are one transaction: a reply racing a resolve or a
        # transfer (on any replica) is either recorded and sent, or refused.
        handoff, transcript_id = await self.store._run(
            self._record_reply, handoff_id, agent, message
        )
        entry = HistoryEntry(
            role="agent", text=body, buttons=[], image=None, at=self.clock(), agent=agent
        )
        self._publish(
            QueueEvent(type="message", handoff=handoff, message=entry), message_id=transcript_id
        )
        await self.delivery.flush(handoff.conversation_id, force=True)

    async def resolve(self, handoff_id: int, agent: str, note: str = "") -> None:
        """Hand the conversation back to the bot.

        The owner becomes the bot again, the note goes to the Rasa tracker (slot
        ``handoff_note``; best effort: Rasa being down does not stop the hand-back), and the
        user is told and asked to rate the help from 1 to 5. A waiting handoff may be
        resolved by any agent (spam, a duplicate), an assigned one only by its agent; the
        check and the change are one conditional UPDATE, so a resolve racing a claim or
        another resolve never closes a handoff someone else holds.

        Raises:
            HandoffNotFound: no handoff has this id.
            HandoffConflict: it is already resolved, or another agent holds it.
            InvalidHandoffInput: a bad agent name or an over-long note.
        """
        agent = _agent_name(agent)
        note = clean_text(note)
        if len(note) > MAX_NOTE_CHARS:
            raise InvalidHandoffInput(
                f"a note must be at most {MAX_NOTE_CHARS} characters, got {len(note)}"
            )
        changed = await self.store._run(self._resolve, handoff_id, agent, note)
        handoff = await self._require(handoff_id)
        if not changed:
            reason = (
                "it is already resolved"
                if handoff.status == "resolved"
                else f"it is assigned to {handoff.agent}"
            )
            raise HandoffConflict(handoff_id, reason)
        logger.info("handoff %d resolved by %s", handoff_id, agent)
        self._publish(QueueEvent(type="resolved", handoff=handoff))
        name = handoff.agent or agent
        shown = await anyio.to_thread.run_sync(self.public_name, name)
        language = await conversation_language(self.store, handoff.conversation_id)
        if shown == COLLEAGUE:
            shown = say("notice.a_colleague", language)
        text = say("notice.back_to_bot", language, agent=shown)
        await self._tell_user(handoff, OutgoingMessage(text=text, buttons=csat_buttons(language)))
        await self._note_in_tracker(handoff, name, note)

    async def transcript(self, conversation_id: str) -> builtins.list[HistoryEntry]:
        """The conversation's transcript, oldest first: roles user, bot, agent and system."""
        return await self.store.history(conversation_id)

    def subscribe(self, *, local_only: bool = False) -> Subscription:
        """Live queue events from now on; iterate with ``async for`` and close when done.

        Events of every gateway replica arrive (`connectors.handoff.relay`); ``local_only``
        keeps those of this replica only, for followers that act on each event once (the
        Slack agent channel runs on every replica).

        Example:
            >>> async with queue.subscribe() as events:
            ...     async for event in events:
            ...         print(event["type"], event["handoff"].id)
        """
        subscription = Subscription(self, local_only=local_only)
        self._subscribers.add(subscription)
        return subscription

    # What the gateway's turn path uses.

    async def ownership(self, conversation_id: str) -> Ownership:
        """Who answers the conversation now (the bot when it was never escalated)."""
        rows = await self.store._run(
            self.store._query,
            "SELECT owner, handoff_id, csat_handoff_id FROM conversation_owner "
            "WHERE conversation_id = ?",
            (conversation_id,),
        )
        if not rows:
            return Ownership()
        owner, handoff_id, csat_handoff_id = rows[0]
        return Ownership(owner=owner, handoff_id=handoff_id, csat_handoff_id=csat_handoff_id)

    async def user_message(self, handoff: Handoff, transcript_id: int) -> bool | None:
        """Hold a user's message (already in the transcript) for the agent side.

        Publishes a ``message`` event. Returns True the first time this handoff gets a user
        message, so the turn path can acknowledge it once; None when the handoff was resolved
        meanwhile (on any replica): nothing is held and the bot answers the message.
        """
        held = await self.store._run(self._hold, handoff.id, transcript_id)
        if held is None:
            return None
        first, entry = held
        self._publish(
            QueueEvent(type="message", handoff=handoff, message=entry), message_id=transcript_id
        )
        return first

    async def inbox(self, handoff_id: int) -> builtins.list[HistoryEntry]:
        """The user's messages no agent has seen yet, oldest first; marks them seen."""
        held: Held = await self.store._run(self._take_inbox, handoff_id)
        return [entry for _, entry in held]

    async def rate(self, conversation_id: str, score: int) -> Handoff | None:
        """Store the user's rating of the handoff they were asked about; None if none was.

        Raises:
            InvalidHandoffInput: the score is not an integer from 1 to 5.
        """
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidHandoffInput(f"a rating must be a whole number from 1 to 5, got {score!r}")
        handoff_id = await self.store._run(self._rate, conversation_id, score)
        return None if handoff_id is None else await self.get(handoff_id)

    async def forget_rating(self, conversation_id: str) -> None:
        """The user moved on without rating: stop treating a digit as a rating."""
        await self.store._run(
            self.store._execute,
            "UPDATE conversation_owner SET csat_handoff_id = NULL WHERE conversation_id = ?",
            (conversation_id,),
        )

    async def csat(self, handoff_id: int) -> int | None:
        """The rating the user gave a handoff, if any."""
        rows = await self.store._run(
            self.store._query, "SELECT score FROM csat WHERE handoff_id = ?", (handoff_id,)
        )
        return int(rows[0][0]) if rows else None

    async def availability(self) -> Availability:
        """Whether a person can answer now: in business hours with an agent online."""
        try:
            online = await anyio.to_thread.run_sync(self.agents_online)
        except Exception:
            logger.exception("counting online agents failed; treating it as none")
            online = 0
        return availability(self.hours, online, self.clock())

    # Blocking parts, run in a worker thread.

    def _create(
        self,
        conversation_id: str,
        channel: str,
        queue: str,
        priority: int,
        trigger: Trigger,
        summary: str,
        slots: dict[str, Any],
        available: bool,
    ) -> tuple[int, bool]:
        now = self.clock()
        try:
            with self.store.transaction() as db:
                row = db.execute(
                    "SELECT id FROM handoffs WHERE conversation_id = ? AND status != 'resolved'",
                    (conversation_id,),
                ).fetchone()
                if row is not None:
                    return int(row[0]), False
                inserted = db.execute(
                    "INSERT INTO handoffs (conversation_id, channel, queue, priority, status, "
                    "trigger_rule, trigger_score, trigger_detail, summary, slots, created_at, "
                    "available) VALUES (?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (conversation_id, channel, queue, priority, trigger.rule, trigger.score,
                     trigger.detail, summary, json.dumps(slots, default=str), now,
                     int(available)),
                )  # fmt: skip
                handoff_id = int(inserted.fetchone()[0])
                db.execute(
                    "INSERT INTO conversation_owner (conversation_id, owner, handoff_id, "
                    "csat_handoff_id, updated_at) VALUES (?, 'human', ?, NULL, ?) "
                    "ON CONFLICT (conversation_id) DO UPDATE SET owner = 'human', "
                    "handoff_id = excluded.handoff_id, csat_handoff_id = NULL, "
                    "updated_at = excluded.updated_at",
                    (conversation_id, handoff_id, now),
                )
                return handoff_id, True
        except IntegrityError:
            # Another process opened one between our check and insert (the unique index).
            rows = self.store._query(
                "SELECT id FROM handoffs WHERE conversation_id = ? AND status != 'resolved'",
                (conversation_id,),
            )
            if not rows:
                raise
            return int(rows[0][0]), False

    def _claim(self, handoff_id: int, agent: str) -> tuple[bool, Held]:
        with self.store.transaction() as db:
            won = db.execute(
                "UPDATE handoffs SET status = 'assigned', agent = ?, assigned_at = ? "
                "WHERE id = ? AND status = 'waiting'",
                (agent, self.clock(), handoff_id),
            ).rowcount
            if won != 1:
                if db.execute("SELECT 1 FROM handoffs WHERE id = ?", (handoff_id,)).fetchone():
                    return False, []
                raise HandoffNotFound(handoff_id)
            return True, self._take_inbox(handoff_id)

    def _assign(self, handoff_id: int, by: str, to: str) -> tuple[bool, Held]:
        with self.store.transaction() as db:
            row = db.execute("SELECT status FROM handoffs WHERE id = ?", (handoff_id,)).fetchone()
            if row is None:
                raise HandoffNotFound(handoff_id)
            moved = db.execute(
                "UPDATE handoffs SET status = 'assigned', agent = ?, assigned_at = ? "
                "WHERE id = ? AND (status = 'waiting' OR (status = 'assigned' AND agent = ?))",
                (to, self.clock(), handoff_id, by),
            ).rowcount
            if moved != 1:
                return False, []
            return True, self._take_inbox(handoff_id) if row[0] == "waiting" else []

    def _hold(self, handoff_id: int, transcript_id: int) -> tuple[bool, HistoryEntry] | None:
        with self.store.transaction() as db:
            held = db.execute(
                "INSERT INTO handoff_inbox (handoff_id, transcript_id) SELECT ?, ? WHERE EXISTS "
                "(SELECT 1 FROM handoffs WHERE id = ? AND status != 'resolved')",
                (handoff_id, transcript_id, handoff_id),
            ).rowcount
            if not held:
                return None
            first = db.execute(
                "UPDATE handoffs SET acknowledged = 1 WHERE id = ? AND acknowledged = 0",
                (handoff_id,),
            ).rowcount
            role, body, created_at = db.execute(
                "SELECT role, body, created_at FROM transcript WHERE id = ?", (transcript_id,)
            ).fetchone()
        return first == 1, entry_of(role, body, created_at)

    def _record_reply(
        self, handoff_id: int, agent: str, message: OutgoingMessage
    ) -> tuple[Handoff, int]:
        """Check that ``agent`` holds the handoff and record the reply (transcript and outbox);
        the handoff and the reply's transcript id."""
        with self.store.transaction() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM handoffs WHERE id = ?", (handoff_id,)
            ).fetchone()
            if row is None:
                raise HandoffNotFound(handoff_id)
            handoff = _handoff(row)
            if handoff.status == "resolved":
                raise HandoffConflict(handoff_id, "it is resolved; the bot answers this user again")
            if handoff.agent != agent:
                raise HandoffConflict(handoff_id, f"it is assigned to {handoff.agent}")
            transcript_id = self.store._insert(
                handoff.conversation_id, "agent", {**entry_body(message), "agent": agent}
            )
            self.delivery._insert(handoff.conversation_id, handoff.channel, [message], self.clock())
        return handoff, transcript_id

    def _take_inbox(self, handoff_id: int) -> Held:
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT t.id, t.role, t.body, t.created_at FROM handoff_inbox i "
                "JOIN transcript t ON t.id = i.transcript_id "
                "WHERE i.handoff_id = ? AND i.seen_at IS NULL ORDER BY i.id",
                (handoff_id,),
            ).fetchall()
            db.execute(
                "UPDATE handoff_inbox SET seen_at = ? WHERE handoff_id = ? AND seen_at IS NULL",
                (self.clock(), handoff_id),
            )
        return [(int(row_id), entry_of(role, body, at)) for row_id, role, body, at in rows]

    def _resolve(self, handoff_id: int, agent: str, note: str) -> bool:
        now = self.clock()
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT conversation_id FROM handoffs WHERE id = ?", (handoff_id,)
            ).fetchone()
            if row is None:
                raise HandoffNotFound(handoff_id)
            conversation_id = row[0]
            changed = db.execute(
                "UPDATE handoffs SET status = 'resolved', resolved_at = ?, resolved_by = ?, "
                "note = ?, agent = COALESCE(agent, ?) WHERE id = ? "
                "AND (status = 'waiting' OR (status = 'assigned' AND agent = ?))",
                (now, agent, note, agent, handoff_id, agent),
            ).rowcount
            if changed != 1:
                return False
            db.execute(
                "UPDATE conversation_owner SET owner = 'bot', handoff_id = NULL, "
                "csat_handoff_id = ?, updated_at = ? WHERE conversation_id = ?",
                (handoff_id, now, conversation_id),
            )
            db.execute(
                "UPDATE handoff_inbox SET seen_at = ? WHERE handoff_id = ? AND seen_at IS NULL",
                (now, handoff_id),
            )
        return True

    def _rate(self, conversation_id: str, score: int) -> int | None:
        with self.store.transaction() as db:
            row = db.execute(
                "SELECT o.csat_handoff_id, h.agent FROM conversation_owner o "
                "JOIN handoffs h ON h.id = o.csat_handoff_id WHERE o.conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            if row is None:
                return None
            handoff_id, agent = row
            db.execute(
                "INSERT INTO csat (handoff_id, conversation_id, agent, score, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (handoff_id) DO UPDATE SET "
                "score = excluded.score, created_at = excluded.created_at",
                (handoff_id, conversation_id, agent, score, self.clock()),
            )
            db.execute(
                "UPDATE conversation_owner SET csat_handoff_id = NULL WHERE conversation_id = ?",
                (conversation_id,),
            )
        return int(handoff_id)

    # Helpers.

    async def _require(self, handoff_id: int) -> Handoff:
        handoff = await self.get(handoff_id)
        if handoff is None:
            raise HandoffNotFound(handoff_id)
        return handoff

    async def _tell_user(self, handoff: Handoff, message: OutgoingMessage) -> None:
        await self.store.append_entry(handoff.conversation_id, "system", message)
        await self.delivery.send(handoff.conversation_id, handoff.channel, [message])

    async def _refine_summary(self, handoff: Handoff, history: builtins.list[HistoryEntry]) -> None:
        try:
            sentence = await anyio.to_thread.run_sync(
                generated_summary, history, handoff.summary, handoff.slots, self._generator
            )
            if not sentence:
                return
            summary = f"{sentence}\n{handoff.summary}"
            await self.store._run(
                self.store._execute,
                "UPDATE handoffs SET summary = ? WHERE id = ?",
                (summary, handoff.id),
            )
            self._publish(QueueEvent(type="updated", handoff=await self._require(handoff.id)))
        except Exception:
            # The summary is optional: the handoff stands with the extractive one.
            logger.exception("handoff %d: the generated summary could not be added", handoff.id)

    async def _rasa_slots(self, conversation_id: str) -> dict[str, Any]:
        if self.tracker is None:
            return {}
        try:
            return await self.tracker.slots(conversation_id)
        except Exception as error:
            logger.warning("could not read the slots of %s from Rasa: %s",
                           redact(conversation_id), error)  # fmt: skip
            return {}

    async def _note_in_tracker(self, handoff: Handoff, agent: str, note: str) -> None:
        if self.tracker is None:
            return
        text = f"handoff {handoff.id} ({handoff.trigger.rule}) resolved by {agent}"
        if note:
            text += f": {note}"
        timestamp = self.clock()
        events: builtins.list[dict[str, Any]] = [
            # A form that was open when the user was escalated must not catch their next
            # question; the person has dealt with it.
            {"event": "active_loop", "name": None, "timestamp": timestamp},
            {"event": "slot", "name": "requested_slot", "value": None, "timestamp": timestamp},
            {"event": "slot", "name": "handoff_note", "value": text, "timestamp": timestamp},
        ]
        try:
            await self.tracker.append_events(handoff.conversation_id, events)
        except Exception as error:
            logger.warning("handoff %d: the note could not be added to Rasa's tracker: %s",
                           handoff.id, error)  # fmt: skip

    def _read_event(self, ref: EventRef) -> QueueEvent | None:
        """The event another replica published, from what its reference names: the handoff
        and the messages as they are stored now. None when it names no event any more (the
        handoff or its message is gone). Blocking: the relay runs it in a worker thread."""
        if ref["type"] not in EVENT_TYPES:
            return None
        kind = cast(EventType, ref["type"])
        rows = self.store._query(
            f"SELECT {_COLUMNS} FROM handoffs WHERE id = ?", (ref["handoff_id"],)
        )
        if not rows:
            return None
        event = QueueEvent(type=kind, handoff=_handoff(rows[0]))
        message_id = ref.get("message_id")
        pending_ids = ref.get("pending_ids", [])
        ids = pending_ids if message_id is None else [message_id, *pending_ids]
        entries = self._entries(event["handoff"].conversation_id, ids)
        if kind == "message":
            if message_id not in entries:
                return None
            event["message"] = entries[message_id]
        if kind == "claimed":
            event["pending"] = [entries[i] for i in pending_ids if i in entries]
        return event

    def _entries(
        self, conversation_id: str, transcript_ids: builtins.list[int]
    ) -> dict[int, HistoryEntry]:
        """The conversation's transcript entries with these ids (those that are still kept)."""
        if not transcript_ids:
            return {}
        marks = ", ".join("?" for _ in transcript_ids)
        rows = self.store._query(
            "SELECT id, role, body, created_at FROM transcript "
            f"WHERE conversation_id = ? AND id IN ({marks})",
            (conversation_id, *transcript_ids),
        )
        return {int(row_id): entry_of(role, body, at) for row_id, role, body, at in rows}

    def _publish(
        self,
        event: QueueEvent,
        *,
        message_id: int | None = None,
        pending_ids: builtins.list[int] | None = None,
    ) -> None:
        """Hand ``event`` to this replica's subscribers, and a reference to it to the other
        replicas (its kind and ids: the transcript ids of its ``message`` or ``pending``)."""
        self._fanout(event)
        ref = EventRef(type=event["type"], handoff_id=event["handoff"].id)
        if message_id is not None:
            ref["message_id"] = message_id
        if pending_ids is not None:
            ref["pending_ids"] = pending_ids
        self.relay.publish(ref)

    def _publish_claimed(self, handoff: Handoff, pending: Held) -> None:
        self._publish(
            QueueEvent(type="claimed", handoff=handoff, pending=[entry for _, entry in pending]),
            pending_ids=[transcript_id for transcript_id, _ in pending],
        )

    def _fanout(self, event: QueueEvent, *, relayed: bool = False) -> None:
        for subscription in builtins.list(self._subscribers):
            if not (relayed and subscription.local_only):
                subscription._put(event)

    def _relayed(self, event: QueueEvent) -> None:
        self._fanout(event, relayed=True)


def _handoff(row: tuple[Any, ...]) -> Handoff:
    (handoff_id, conversation_id, channel, queue, priority, status, rule, score, detail,
     summary, slots, agent, created_at, assigned_at, resolved_at, available, note,
     resolved_by) = row  # fmt: skip
    return Handoff(
        id=int(handoff_id),
        conversation_id=conversation_id,
        channel=channel,
        queue=queue,
        priority=int(priority),
        status=status,
        trigger=Trigger(rule=rule, score=score, detail=detail),
        summary=summary,
        slots=json.loads(slots),
        agent=agent,
        created_at=created_at,
        assigned_at=assigned_at,
        resolved_at=resolved_at,
        available=bool(available),
        note=note,
        resolved_by=resolved_by,
    )


def _agent_name(agent: str) -> str:
    name = agent.strip() if isinstance(agent, str) else ""
    if not name:
        raise InvalidHandoffInput("an agent name must not be empty")
    if len(name) > MAX_AGENT_NAME:
        raise InvalidHandoffInput(
            f"an agent name must be at most {MAX_AGENT_NAME} characters, got {len(name)}"
        )
    return name


def _verification_secret() -> bytes:
    """The shared verification secret; erp is imported at first use, not with the gateway."""
    from erp.access import verification_secret

    return verification_secret()

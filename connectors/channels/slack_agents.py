"""The Slack agent channel: handoffs posted to a Slack channel, answered from its threads.

When SLACK_AGENT_CHANNEL is set (and Slack is configured), every new handoff is posted there
with its summary, trigger and Claim / Resolve buttons. In that message's thread:

- an agent's reply goes to the customer (``HandoffQueue.agent_reply``; a reply to an
  unclaimed handoff claims it), and gets a :white_check_mark: once it is sent;
- ``!resolve [note]`` hands the conversation back to the bot, ``!claim`` claims it;
- the customer's own messages appear as they arrive.

A :raising_hand: or :eyes: reaction on the message, or its Claim button, claims the handoff for
the Slack user, who acts as the console agent named in SLACK_AGENT_USER_IDS or, by default,
an agent ``slack:<user id>`` created on first use. Which thread belongs to which handoff is
kept in the gateway database, so replies still reach the customer after a restart.

Events and button clicks arrive through the Slack channel's signed /slack/events and
/slack/interactions endpoints; ``SlackChannel`` hands everything from the agent channel here
before its customer handling (see ``owns_event`` and ``owns_action``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import anyio.to_thread
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from connectors.agents.auth import AgentAuth
from connectors.agents.errors import AgentError
from connectors.agents.settings import AgentSettings
from connectors.channels.slack import from_slack, to_mrkdwn
from connectors.handoff.errors import HandoffConflict, HandoffError
from connectors.handoff.facts import context_facts
from connectors.handoff.queue import Handoff, HandoffQueue, QueueEvent
from connectors.store import GatewayStore, HistoryEntry

logger = logging.getLogger("connectors")

CLAIM_REACTIONS = frozenset({"raising_hand", "eyes", "hand", "raised_hand"})
CLAIM_ACTION = "handoff_claim"
RESOLVE_ACTION = "handoff_resolve"
SENT_REACTION = "white_check_mark"
RESYNC_SECONDS = 60.0
# A handoff's thread while one replica posts it (``ts`` is a placeholder until then).
PENDING_TS = "pending:"
PENDING_SECONDS = 120.0


def handoff_blocks(handoff: Handoff, *, claimed_by: str | None = None) -> list[dict[str, Any]]:
    """The Block Kit message for a handoff: summary, trigger, context and the buttons.

    ``claimed_by`` (Slack markup for who has it) replaces the Claim button; a resolved
    handoff has no buttons left.
    """
    trigger = handoff.trigger
    score = f" ({trigger.score:.2f})" if trigger.score is not None else ""
    fields = [
        f"*Trigger:* {to_mrkdwn(trigger.rule)}{score}",
        f"*Channel:* {to_mrkdwn(handoff.channel)}",
        f"*Priority:* {handoff.priority}",
        f"*Queue:* {to_mrkdwn(handoff.queue)}",
    ]
    # Only what the conversation verified reads as verified; other numbers say not to
    # disclose them (connectors.handoff.facts).
    for fact in context_facts(handoff.slots):
        note = f" ({to_mrkdwn(fact.note)})" if fact.note else ""
        warn = ":warning: " if fact.status == "unverified" else ""
        label = fact.label[:1].upper() + fact.label[1:]
        fields.append(f"*{label}:* {warn}{to_mrkdwn(fact.value)}{note}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Handoff #{handoff.id}"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": to_mrkdwn(handoff.summary or "(no summary)")[:3000]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f[:2000]} for f in fields[:10]]},
        {"type": "context", "elements": [{"type": "mrkdwn",
                                          "text": to_mrkdwn(trigger.detail)[:3000] or "-"}]},
    ]  # fmt: skip
    if handoff.status == "resolved":
        who = f" by {claimed_by}" if claimed_by else ""
        blocks.append(_note(f":white_check_mark: Resolved{who}; the bot answers again."))
        return blocks
    buttons: list[dict[str, Any]] = []
    if claimed_by is None:
        buttons.append(_button("Claim", CLAIM_ACTION, handoff.id, style="primary"))
    buttons.append(_button("Resolve", RESOLVE_ACTION, handoff.id))
    if claimed_by is not None:
        blocks.append(_note(f":raising_hand: Claimed by {claimed_by}"))
    blocks.append({"type": "actions", "elements": buttons})
    blocks.append(_note(_HOW_TO))
    return blocks


_HOW_TO = (
    "Reply in this thread to answer the customer. React with :raising_hand: to claim; "
    "`!resolve note` hands back to the bot."
)


def _button(text: str, action: str, handoff_id: int, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action,
        "value": str(handoff_id),
    }
    if style:
        button["style"] = style
    return button


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


class SlackAgentChannel:
    """Posts handoffs to the agents' Slack channel and acts on what agents do there.

    Example:
        >>> agents = SlackAgentChannel(agent_settings, store=store, queue=queue, auth=auth,
        ...                            client=slack.client)
        >>> slack.agents = agents          # the Slack channel routes agent-channel events here
        >>> await agents.start()           # follows the queue until stop()
    """

    def __init__(
        self,
        settings: AgentSettings,
        *,
        store: GatewayStore,
        queue: HandoffQueue,
        auth: AgentAuth,
        client: WebClient,
        resync_seconds: float = RESYNC_SECONDS,
    ) -> None:
        self.channel = settings.slack_agent_channel
        self.users = settings.slack_agent_users
        self.store = store
        self.queue = queue
        self.auth = auth
        self.client = client
        self.resync_seconds = resync_seconds
        self._post_lock = asyncio.Lock()
        self._follower: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Follow the queue: post new handoffs (and any open one not yet posted)."""
        self._follower = asyncio.create_task(self._follow())
        logger.info("slack agent channel %s ready (%s)", self.channel,
                    f"{len(self.users)} mapped users" if self.users
                    else "every channel member may act as an agent")  # fmt: skip

    async def stop(self) -> None:
        """Stop following the queue (events in progress are the Slack channel's to drain)."""
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)

    # What the Slack channel hands over.

    def owns_event(self, event: dict[str, Any]) -> bool:
        """Whether an Events API event happened in the agent channel (so it is ours)."""
        item = event.get("item")
        channel = item.get("channel") if isinstance(item, dict) else event.get("channel")
        return bool(self.channel) and channel == self.channel

    def owns_action(self, payload: dict[str, Any]) -> bool:
        """Whether a block_actions payload is a click in the agent channel."""
        channel = (payload.get("channel") or {}).get("id")
        return bool(self.channel) and channel == self.channel

    async def on_event(self, payload: dict[str, Any], event: dict[str, Any]) -> None:
        """Act on a message or reaction in the agent channel; anything else is ignored."""
        try:
            if event.get("type") == "reaction_added":
                await self._reaction(event)
            elif event.get("type") == "message":
                await self._thread_message(event)
        except (AgentError, HandoffError) as error:
            logger.info("slack agent event not applied: %s", error)

    async def on_action(self, payload: dict[str, Any]) -> None:
        """Act on a Claim or Resolve click."""
        actions = payload.get("actions") or []
        action = actions[0] if actions else {}
        user = str((payload.get("user") or {}).get("id", ""))
        try:
            handoff_id = int(str(action.get("value", "")))
        except ValueError:
            return
        kind = action.get("action_id")
        try:
            if kind == CLAIM_ACTION:
                await self._claim(handoff_id, user)
            elif kind == RESOLVE_ACTION:
                await self._resolve(handoff_id, user, "")
        except (AgentError, HandoffError) as error:
            logger.info("slack agent action not applied: %s", error)
            await self._ephemeral(user, None, f"That did not work: {error}")

    # The queue, followed.

    async def _follow(self) -> None:
        while True:
            try:
                # This replica's events only: each replica follows its own, so a Slack
                # message is posted once whichever replica the handoff happened on.
                async with self.queue.subscribe(local_only=True) as events:
                    await self._post_missing()
                    while True:
                        try:
                            event = await events.get(timeout=self.resync_seconds)
                        except TimeoutError:
                            await self._post_missing()
                            continue
                        await self._on_queue_event(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad event must not stop the agent channel for good.
                logger.exception("slack agent channel: following the queue failed; retrying")
                await asyncio.sleep(1.0)

    async def _post_missing(self) -> None:
        # A replica that died between its claim and its post leaves a claim nobody finishes.
        await self.store._run(
            self.store._execute,
            "DELETE FROM slack_handoff_threads WHERE ts LIKE ? AND created_at < ?",
            (f"{PENDING_TS}%", time.time() - PENDING_SECONDS),
        )
        for handoff in await self.queue.list(("waiting", "assigned")):
            await self._post(handoff)

    async def _on_queue_event(self, event: QueueEvent) -> None:
        handoff = event["handoff"]
        kind = event["type"]
        if kind == "created":
            await self._post(handoff)
            return
        thread = await self._thread_of(handoff.id)
        if thread is None:
            if handoff.status != "resolved":
                await self._post(handoff)
            return
        if kind in ("claimed", "updated", "resolved"):
            await self._refresh(handoff, thread)
        if kind == "claimed":
            # The customer's messages so far were posted as they came ("message" events).
            await self._say(thread, f":raising_hand: {self._who(handoff.agent)} claimed this.")
        elif kind == "resolved":
            note = f" Note: {to_mrkdwn(handoff.note)}" if handoff.note else ""
            by = self._who(handoff.resolved_by or handoff.agent)
            await self._say(thread, f":white_check_mark: Resolved by {by}.{note}")
        elif kind == "message":
            message = event.get("message")
            if message is not None and message["role"] == "user":
                await self._say(thread, _customer_line(message))

    async def _post(self, handoff: Handoff) -> None:
        async with self._post_lock:
            # Claim the post first: of the replicas that see the handoff at once, one posts.
            pending = f"{PENDING_TS}{handoff.id}"
            claimed = await self.store._run(
                self.store._execute,
                "INSERT INTO slack_handoff_threads VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (handoff.id, self.channel, pending, time.time()),
            )
            if not claimed:
                return
            claimed_by = self._who(handoff.agent) if handoff.status == "assigned" else None
            response = await self._call(
                "chat_postMessage",
                channel=self.channel,
                text=f"Handoff #{handoff.id} ({handoff.trigger.rule}): {handoff.summary}"[:3000],
                blocks=handoff_blocks(handoff, claimed_by=claimed_by),
            )
            if response is None or not response.get("ts"):
                # Logged; the next resync tries again.
                await self.store._run(
                    self.store._execute,
                    "DELETE FROM slack_handoff_threads WHERE handoff_id = ? AND ts = ?",
                    (handoff.id, pending),
                )
                return
            await self.store._run(
                self.store._execute,
                "UPDATE slack_handoff_threads SET channel = ?, ts = ? WHERE handoff_id = ?",
                (str(response.get("channel") or self.channel), str(response["ts"]), handoff.id),
            )

    async def _refresh(self, handoff: Handoff, thread: tuple[str, str]) -> None:
        who = handoff.agent
        if handoff.status == "resolved":
            who = handoff.resolved_by or handoff.agent
        claimed = self._who(who) if who else None
        await self._call(
            "chat_update",
            channel=thread[0],
            ts=thread[1],
            text=f"Handoff #{handoff.id} ({handoff.status})",
            blocks=handoff_blocks(handoff, claimed_by=claimed),
        )

    # What agents do in Slack.

    async def _reaction(self, event: dict[str, Any]) -> None:
        if event.get("reaction") not in CLAIM_REACTIONS:
            return
        item = event.get("item") or {}
        handoff_id = await self._handoff_at(str(item.get("channel", "")), str(item.get("ts", "")))
        if handoff_id is not None:
            await self._claim(handoff_id, str(event.get("user", "")))

    async def _thread_message(self, event: dict[str, Any]) -> None:
        # Our own posts, edits, deletions and joins are not agent replies; a reply also sent
        # to the channel (thread_broadcast) is.
        subtype = event.get("subtype")
        if event.get("bot_id") or not event.get("thread_ts"):
            return
        if subtype not in (None, "thread_broadcast", "file_share"):
            return
        thread_ts = str(event["thread_ts"])
        handoff_id = await self._handoff_at(str(event.get("channel", "")), thread_ts)
        if handoff_id is None:
            return
        user = str(event.get("user", ""))
        if subtype == "file_share":
            await self._ephemeral(user, thread_ts, _NO_FILES)
            return
        text = from_slack(str(event.get("text", "")))
        command, _, rest = text.partition(" ")
        if command.lower() == "!resolve":
            await self._resolve(handoff_id, user, rest.strip(), thread_ts=thread_ts)
        elif command.lower() == "!claim":
            await self._claim(handoff_id, user, thread_ts=thread_ts)
        elif text:
            await self._reply(handoff_id, user, text, event)

    async def _claim(self, handoff_id: int, user: str, *, thread_ts: str | None = None) -> None:
        agent = await self._agent_for(user)
        if agent is None:
            await self._ephemeral(user, thread_ts, _NOT_AN_AGENT)
            return
        if not await self.queue.claim(handoff_id, agent):
            current = await self.queue.get(handoff_id)
            state = (
                f"{self._who(current.agent)} already has it"
                if current is not None and current.status == "assigned"
                else "it is already resolved"
            )
            await self._ephemeral(user, thread_ts, f"Handoff #{handoff_id} not claimed: {state}.")

    async def _resolve(
        self, handoff_id: int, user: str, note: str, *, thread_ts: str | None = None
    ) -> None:
        agent = await self._agent_for(user)
        if agent is None:
            await self._ephemeral(user, thread_ts, _NOT_AN_AGENT)
            return
        try:
            # The queue checks who holds it in the same update that resolves it.
            await self.queue.resolve(handoff_id, agent, note)
        except HandoffConflict:
            handoff = await self.queue.get(handoff_id)
            if handoff is None or handoff.status == "resolved":
                text = f"Handoff #{handoff_id} is already resolved."
            else:
                text = (f"Only {self._who(handoff.agent)}, who has handoff #{handoff_id}, "
                        "can resolve it.")  # fmt: skip
            await self._ephemeral(user, thread_ts, text)

    async def _reply(self, handoff_id: int, user: str, text: str, event: dict[str, Any]) -> None:
        agent = await self._agent_for(user)
        thread_ts = str(event.get("thread_ts"))
        if agent is None:
            await self._ephemeral(user, thread_ts, _NOT_AN_AGENT + " Your message was not sent.")
            return
        try:
            await self.queue.agent_reply(handoff_id, agent, text)
        except HandoffError as error:
            await self._ephemeral(
                user, thread_ts, f"Not sent to the customer: {to_mrkdwn(str(error))}."
            )
            return
        await self._call(
            "reactions_add",
            channel=self.channel,
            timestamp=str(event.get("ts")),
            name=SENT_REACTION,
        )

    async def _agent_for(self, user: str) -> str | None:
        """The console agent a Slack user acts as, created on first use; None if not allowed."""
        if not user:
            return None
        if self.users and user not in self.users:
            return None
        name = self.users.get(user) or f"slack:{user}"
        await self.store._run(self.auth.ensure_agent, name, f"Slack user {user}")
        await self.store._run(self.auth.note_active, name)
        return name

    # Slack and the database.

    def _who(self, agent: str | None) -> str:
        if not agent:
            return "nobody"
        if agent.startswith("slack:"):
            return f"<@{agent.removeprefix('slack:')}>"
        for user, name in self.users.items():
            if name == agent:
                return f"<@{user}>"
        return to_mrkdwn(agent)

    async def _thread_of(self, handoff_id: int) -> tuple[str, str] | None:
        rows = await self.store._run(
            self.store._query,
            "SELECT channel, ts FROM slack_handoff_threads WHERE handoff_id = ?",
            (handoff_id,),
        )
        if not rows or str(rows[0][1]).startswith(PENDING_TS):
            return None  # not posted (yet)
        return str(rows[0][0]), str(rows[0][1])

    async def _handoff_at(self, channel: str, ts: str) -> int | None:
        rows = await self.store._run(
            self.store._query,
            "SELECT handoff_id FROM slack_handoff_threads WHERE channel = ? AND ts = ?",
            (channel, ts),
        )
        return int(rows[0][0]) if rows else None

    async def _say(self, thread: tuple[str, str], text: str) -> None:
        await self._call("chat_postMessage", channel=thread[0], thread_ts=thread[1], text=text)

    async def _ephemeral(self, user: str, thread_ts: str | None, text: str) -> None:
        if user:
            await self._call("chat_postEphemeral", channel=self.channel, user=user,
                             thread_ts=thread_ts, text=text)  # fmt: skip

    async def _call(self, method: str, **params: Any) -> dict[str, Any] | None:
        """One Web API call in a worker thread; None (logged) when Slack refuses or is down."""
        try:
            response = await anyio.to_thread.run_sync(
                functools.partial(getattr(self.client, method), **params)
            )
        except (SlackApiError, SlackClientError, OSError) as error:
            logger.error("slack agent channel: %s failed: %s", method, error)
            return None
        data: dict[str, Any] = dict(response.data) if isinstance(response.data, dict) else {}
        return data


_NOT_AN_AGENT = "You are not set up as an agent (SLACK_AGENT_USER_IDS)."
_NO_FILES = "Files are not passed on to the customer: nothing was sent. Please reply in text."


def _customer_line(entry: HistoryEntry) -> str:
    return f":speech_balloon: *Customer:* {to_mrkdwn(entry.get('text') or '(no text)')}"

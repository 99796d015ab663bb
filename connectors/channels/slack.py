"""The Slack channel: Events API (mentions, direct messages), /erp slash command, buttons.

Every request is checked against the v0 signature (HMAC-SHA256 of ``v0:timestamp:body`` with
the signing secret, timestamps within 5 minutes) before anything else. Events are
acknowledged at once and answered in the background, exactly once per event_id: Slack
retries an event it thinks was not acknowledged in time, and a retry must not produce a
second reply (rasa#3882).

While a mention or DM is being answered, the answer's drafts (connectors/drafts.py) show as
one message in the answer's thread, updated as the answer grows; the answer's first text
replaces it by one more update. /erp answers are ephemeral and show no drafts.

Who is writing comes only from the signed request. A DM (and /erp, whose answer only the
user sees) is the conversation ``slack:<team>:<user>``; a mention in a channel or thread,
where everyone in it reads the answer, is that person's own conversation in that channel,
``slack:<team>:<channel>:<user>``, marked ``group`` for Rasa.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import re
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread
import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from connectors.charts import CHART_KEY, Chart, chart_of
from connectors.drafts import LiveDrafts, draft_text
from connectors.errors import ChannelDeliveryFailed, GatewayError, InvalidMessage
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.render import Link, split_links
from connectors.roles import may_change_orders
from connectors.settings import SlackSettings
from connectors.turns import Turns, user_notice
from connectors.validation import MAX_BODY_BYTES, load_json_object, read_body
from contracts.redaction import conversation_tag

logger = logging.getLogger("connectors")

COMMAND = "/erp"
COMMAND_HELP = (
    "Ask me about an order, stock or an invoice, for example `/erp where is order SO-100123` "
    "or `/erp is WID-1001 in stock?`"
)
DRAIN_SECONDS = 10.0
UPLOAD_SECONDS = 30.0
WEB = ("https", "http")
# A section's text is cut at 3000 characters; escaping may lengthen the draft a little.
DRAFT_CHARS = 2900
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_ANGLE = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


class AgentChannelHook(Protocol):
    """The Slack agent channel (slack_agents.py): takes every event from its own channel."""

    def owns_event(self, event: dict[str, Any]) -> bool: ...
    def owns_action(self, payload: dict[str, Any]) -> bool: ...
    async def on_event(self, payload: dict[str, Any], event: dict[str, Any]) -> None: ...
    async def on_action(self, payload: dict[str, Any]) -> None: ...


# Where an answer goes: a channel and the thread (None: the channel itself).
Place = tuple[str, str | None]
# One sent message: the channel id Slack answered with (a DM's, for a user id) and its ts.
Posted = tuple[str, str]


def _retry_handlers() -> list[Any]:
    return [RateLimitErrorRetryHandler(max_retry_count=3), ConnectionErrorRetryHandler(3)]


class SlackChannel:
    """Slack through slack-sdk: signature checks, idempotent events, Block Kit replies.

    Example:
        >>> slack = SlackChannel(SlackSettings(bot_token="xoxb-…", signing_secret="…"), turns)
        >>> routes = slack.routes()  # /slack/events, /slack/commands, /slack/interactions
    """

    name = "slack"
    # Set by the gateway when SLACK_AGENT_CHANNEL is on; its channel never reaches Rasa.
    agents: AgentChannelHook | None = None

    def __init__(
        self, settings: SlackSettings, turns: Turns, *, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.turns = turns
        self.verifier = SignatureVerifier(settings.signing_secret, clock=clock or Clock())
        self.client = WebClient(
            token=settings.bot_token,
            base_url=settings.api_url,
            timeout=10,
            retry_handlers=_retry_handlers(),
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.drafts: LiveDrafts[Place, Posted] = LiveDrafts(
            post=self._post_draft, edit=self._update_draft
        )

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/slack/events", self.events, methods=["POST"]),
            Route("/slack/commands", self.commands, methods=["POST"]),
            Route("/slack/interactions", self.interactions, methods=["POST"]),
        ]

    async def start(self) -> None:
        staff = {*self.settings.staff_roles, *self.settings.staff_user_ids,
                 *self.settings.staff_writer_ids}  # fmt: skip
        logger.info("slack channel ready (staff users: %d)", len(staff))

    async def stop(self) -> None:
        await self.drain(DRAIN_SECONDS)

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait for replies still being worked on (tests, and a graceful shutdown)."""
        with anyio.move_on_after(timeout):
            while self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    # Endpoints.

    async def events(self, request: Request) -> Response:
        """POST /slack/events: url_verification, and event_callback acknowledged at once."""
        body = await self._verified_body(request)
        if isinstance(body, Response):
            return body
        try:
            payload = load_json_object(body)
        except InvalidMessage as error:
            return JSONResponse({"error": error.reason}, status_code=400)
        if payload.get("type") == "url_verification":
            return JSONResponse({"challenge": str(payload.get("challenge", ""))})
        event = payload.get("event")
        if payload.get("type") != "event_callback" or not isinstance(event, dict):
            return Response(status_code=200)
        event_id = str(payload.get("event_id") or f"{event.get('channel')}:{event.get('ts')}")
        if not await self.turns.store.claim_event(f"slack:{event_id}"):
            logger.info(
                "slack event %s already taken (retry %s): not answered again",
                event_id,
                request.headers.get("X-Slack-Retry-Num", "-"),
            )
            return Response(status_code=200, headers={"X-Slack-No-Retry": "1"})
        if self.agents is not None and self.agents.owns_event(event):
            self._spawn(self.agents.on_event(payload, event))
            return Response(status_code=200)
        self._spawn(self._answer_event(payload, event))
        return Response(status_code=200)

    async def commands(self, request: Request) -> Response:
        """POST /slack/commands: the /erp slash command, answered through its response_url."""
        body = await self._verified_body(request)
        if isinstance(body, Response):
            return body
        form = _form(body)
        text = form.get("text", "").strip()
        if not text:
            return JSONResponse({"response_type": "ephemeral", "text": COMMAND_HELP})
        trigger = form.get("trigger_id") or f"{form.get('user_id')}:{text}"
        if not await self.turns.store.claim_event(f"slack-command:{trigger}"):
            return Response(status_code=200)
        message = self._message(form.get("team_id", ""), form.get("user_id", ""), text, "command")
        self._spawn(self._answer_command(message, form.get("response_url", "")))
        return JSONResponse({"response_type": "ephemeral", "text": "Looking that up…"})

    async def interactions(self, request: Request) -> Response:
        """POST /slack/interactions: a click on one of the bot's Block Kit buttons."""
        body = await self._verified_body(request)
        if isinstance(body, Response):
            return body
        try:
            payload = load_json_object(_form(body).get("payload", ""))
        except InvalidMessage as error:
            return JSONResponse({"error": error.reason}, status_code=400)
        actions = payload.get("actions") or []
        if payload.get("type") != "block_actions" or not actions:
            return Response(status_code=200)
        action = actions[0]
        key = f"slack-action:{payload.get('trigger_id') or action.get('action_ts')}"
        if not await self.turns.store.claim_event(key):
            return Response(status_code=200)
        if self.agents is not None and self.agents.owns_action(payload):
            self._spawn(self.agents.on_action(payload))
            return Response(status_code=200)
        team = str((payload.get("team") or {}).get("id", ""))
        user = str((payload.get("user") or {}).get("id", ""))
        channel = str((payload.get("channel") or {}).get("id", ""))
        container = payload.get("container") or {}
        thread_ts = container.get("thread_ts") or container.get("message_ts")
        # The click is the clicker's, in the place it happened (a DM or a shared channel).
        shared = None if is_direct(channel) else channel
        message = self._message(team, user, str(action.get("value", "")), "button", shared)
        self._spawn(self._answer(message, channel=channel, thread_ts=thread_ts))
        return Response(status_code=200)

    # Background work.

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_event(self, payload: dict[str, Any], event: dict[str, Any]) -> None:
        kind = event.get("type")
        # Bots (this one included) and edits, joins, deletions are not questions.
        if event.get("bot_id") or event.get("subtype"):
            return
        channel = str(event.get("channel", ""))
        if kind == "app_mention":
            thread_ts = event.get("thread_ts") or event.get("ts")
        elif kind == "message" and event.get("channel_type") == "im":
            thread_ts = event.get("thread_ts")
        else:
            return
        direct = event.get("channel_type") == "im" or is_direct(channel)
        team = str(payload.get("team_id") or event.get("team") or "")
        text = from_slack(str(event.get("text", ""))) or "hello"
        message = self._message(
            team, str(event.get("user", "")), text, str(kind), None if direct else channel
        )
        await self._answer(message, channel=channel, thread_ts=thread_ts)

    async def _answer(self, message: IncomingMessage, *, channel: str, thread_ts: Any) -> None:
        # Where an agent's reply must go later, if this conversation is handed to a person.
        await self.turns.store.remember_address(
            message.sender_id, self.name, {"channel": channel, "thread_ts": thread_ts}
        )
        turn = self.drafts.begin(message.sender_id, (channel, thread_ts))
        try:
            replies = await self._replies(message)
        finally:
            draft = await self.drafts.finish(turn)
        for reply in replies:
            chart = chart_of(reply)
            if has_message(reply):
                text, blocks = render(reply)
                replaced = False
                if draft is not None and reply.text:
                    # The answer replaces its draft; if the update fails it is posted anew.
                    replaced = await self._update(draft, text, blocks)
                    draft = None
                if not replaced:
                    try:
                        await self._post(channel, thread_ts, text, blocks)
                    except (SlackApiError, SlackClientError, OSError) as error:
                        logger.error(
                            "slack chat.postMessage to %s failed after retries: %s; "
                            "reply not delivered",
                            channel,
                            error,
                        )
                        return
            if chart is not None:
                await self._upload_chart(chart, channel=channel, thread_ts=thread_ts)

    async def _upload_chart(self, chart: Chart, *, channel: str, thread_ts: Any) -> bool:
        """Share a chart's PNG in the answer's place (the thread, or the DM) through Slack's
        external upload: files.getUploadURLExternal, the bytes POSTed to the URL it gives,
        files.completeUploadExternal. False (logged) when any step fails; the reply's text
        is already delivered by then."""
        try:
            ticket = await anyio.to_thread.run_sync(
                functools.partial(
                    self.client.files_getUploadURLExternal,
                    filename=f"chart-{chart.digest}.png",
                    length=len(chart.png),
                    alt_txt=chart.alt,
                )
            )
            upload_url, file_id = ticket.get("upload_url"), ticket.get("file_id")
            if not isinstance(upload_url, str) or urlsplit(upload_url).scheme not in WEB:
                raise ValueError(f"no upload URL in Slack's answer: {upload_url!r}")
            async with httpx.AsyncClient(timeout=UPLOAD_SECONDS) as http:
                # The URL is the upload's own credential: the bot token is not sent to it.
                sent = await http.post(
                    upload_url, content=chart.png, headers={"Content-Type": "image/png"}
                )
                sent.raise_for_status()
            await anyio.to_thread.run_sync(
                functools.partial(
                    self.client.files_completeUploadExternal,
                    files=[{"id": str(file_id), "title": chart.title}],
                    channel_id=channel,
                    thread_ts=thread_ts,
                    initial_comment=chart.alt,
                )
            )
        except (SlackApiError, SlackClientError, OSError, httpx.HTTPError, ValueError) as error:
            logger.error("slack chart upload to %s failed: %s; chart not shown", channel, error)
            return False
        return True

    async def show_draft(self, conversation_id: str, text: str) -> bool:
        """Show the answer so far where the user's message is being answered.

        Returns False when no mention or DM of that user is being answered (dropped).
        """
        return self.drafts.show(conversation_id, text)

    async def _post_draft(self, place: Place, text: str) -> Posted | None:
        channel, thread_ts = place
        fallback, blocks = render(OutgoingMessage(text=draft_text(text, DRAFT_CHARS)))
        try:
            response = await self._post(channel, thread_ts, fallback, blocks)
        except (SlackApiError, SlackClientError, OSError) as error:
            logger.warning("slack answer draft not posted to %s: %s", channel, error)
            return None
        ts = response.get("ts")
        return (str(response.get("channel") or channel), str(ts)) if ts else None

    async def _update_draft(self, place: Place, draft: Posted, text: str) -> bool:
        fallback, blocks = render(OutgoingMessage(text=draft_text(text, DRAFT_CHARS)))
        return await self._update(draft, fallback, blocks)

    async def _post(
        self, channel: str, thread_ts: str | None, text: str, blocks: list[dict[str, Any]]
    ) -> Any:
        """chat.postMessage in a worker thread (slack-sdk's client blocks); raises its errors."""
        return await anyio.to_thread.run_sync(
            functools.partial(
                self.client.chat_postMessage,
                channel=channel,
                thread_ts=thread_ts,
                text=text,
                blocks=blocks,
            )
        )

    async def _update(self, message: Posted, text: str, blocks: list[dict[str, Any]]) -> bool:
        """Replace a posted message's text and blocks; returns whether Slack took it."""
        channel, ts = message
        try:
            await anyio.to_thread.run_sync(
                functools.partial(
                    self.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks
                )
            )
        except (SlackApiError, SlackClientError, OSError) as error:
            logger.warning("slack chat.update in %s failed: %s", channel, error)
            return False
        return True

    async def push(self, conversation_id: str, messages: list[OutgoingMessage]) -> None:
        """Deliver messages the user did not just ask for (an agent's reply) where they last
        wrote to the bot (the DM or the thread), or in a DM when they only used /erp.

        Raises:
            ChannelDeliveryFailed: the conversation is not a Slack user, or Slack refused the
                message after retries; the handoff Delivery keeps it and tries again.
        """
        place = place_of(conversation_id)
        if place is None:
            raise ChannelDeliveryFailed(self.name, f"not a Slack user: {conversation_id!r}")
        address = await self.turns.store.address(conversation_id) or {}
        # A user id opens the bot's DM; a shared channel's conversation goes back to it.
        channel = str(address.get("channel") or place)
        for message in messages:
            text, blocks = render(message)
            try:
                await anyio.to_thread.run_sync(
                    functools.partial(
                        self.client.chat_postMessage,
                        channel=channel,
                        thread_ts=address.get("thread_ts"),
                        text=text,
                        blocks=blocks,
                    )
                )
            except (SlackApiError, SlackClientError, OSError) as error:
                raise ChannelDeliveryFailed(self.name, f"chat.postMessage: {error}") from error

    async def _answer_command(self, message: IncomingMessage, response_url: str) -> None:
        replies = await self._replies(message)
        blocks: list[dict[str, Any]] = []
        texts: list[str] = []
        for reply in replies:
            if has_message(reply):
                text, reply_blocks = render(reply)
                texts.append(text)
                blocks += reply_blocks
            chart = chart_of(reply)
            if chart is not None:
                # A response_url takes no files: the chart is named, and where to see it.
                note = f"{chart.line} (charts show when you mention me or write to me directly)"
                texts.append(note)
                blocks += render(OutgoingMessage(text=note))[1]
        webhook = WebhookClient(response_url, timeout=10, retry_handlers=_retry_handlers())
        try:
            response = await anyio.to_thread.run_sync(
                functools.partial(
                    webhook.send,
                    text="\n".join(texts),
                    blocks=blocks,
                    response_type="ephemeral",
                )
            )
        except (SlackClientError, OSError) as error:
            logger.error("slack command reply failed: %s; reply not delivered", error)
            return
        if response.status_code != 200:
            logger.error("slack command reply got HTTP %s; reply not delivered",
                         response.status_code)  # fmt: skip

    async def _replies(self, message: IncomingMessage) -> list[OutgoingMessage]:
        try:
            return await self.turns.handle(message)
        except GatewayError as error:
            logger.info(
                "slack turn not answered for %s: %s", conversation_tag(message.sender_id), error
            )
            return [OutgoingMessage(text=user_notice(error, message.text))]

    def _message(
        self, team: str, user: str, text: str, kind: str, shared: str | None = None
    ) -> IncomingMessage:
        """A message from ``user``, in a DM (or /erp) or in the ``shared`` channel."""
        roles = self.settings.roles_of(user, f"{team}:{user}")
        return IncomingMessage(
            sender_id=conversation_id(team, user, shared),
            channel=self.name,
            text=text,
            metadata={"slack": {"kind": kind}},
            staff=bool(roles),
            staff_writes=may_change_orders(roles),
            staff_roles=roles,
            client=f"slack:{team}:{user}",
            group=shared is not None,
        )

    async def _verified_body(self, request: Request) -> bytes | Response:
        body = await read_body(request, limit=MAX_BODY_BYTES)
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        signature = request.headers.get("X-Slack-Signature")
        try:
            valid = self.verifier.is_valid(body, timestamp, signature)
        except ValueError:  # a timestamp that is not a number
            valid = False
        if not valid:
            logger.warning("slack %s: rejected a request with a bad signature", request.url.path)
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        return body


def is_direct(channel: str) -> bool:
    """Whether a channel id is a direct message with the bot (Slack's ids start with D)."""
    return channel.startswith("D")


def conversation_id(team: str, user: str, shared: str | None = None) -> str:
    """``slack:<team>:<user>`` for a DM, ``slack:<team>:<channel>:<user>`` in a shared channel.

    Example:
        >>> conversation_id("T1", "U1"), conversation_id("T1", "U1", "C9")
        ('slack:T1:U1', 'slack:T1:C9:U1')
    """
    return f"slack:{team}:{user}" if shared is None else f"slack:{team}:{shared}:{user}"


def place_of(conversation: str) -> str | None:
    """Where a push to a Slack conversation goes without a remembered address: the user
    (their DM with the bot) or the shared channel; None if it is not a Slack conversation.

    Example:
        >>> place_of("slack:T1:U1"), place_of("slack:T1:C9:U1"), place_of("telegram:1")
        ('U1', 'C9', None)
    """
    parts = conversation.split(":")
    if parts[0] != "slack" or len(parts) not in (3, 4) or not all(parts[1:]):
        return None
    return parts[2]


def from_slack(text: str) -> str:
    """Slack's message markup to plain text: mentions dropped, links and emails unwrapped.

    Example:
        >>> from_slack("<@U0LAN0Z89> my email is <mailto:jo@example.com|jo@example.com>")
        'my email is jo@example.com'
    """
    text = _MENTION.sub("", text)

    def unwrap(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("#C", "!")):
            return label or target.lstrip("#!")
        if target.startswith(("mailto:", "tel:")):
            return label or target.split(":", 1)[1]
        return target

    return html.unescape(_ANGLE.sub(unwrap, text)).strip()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(text: str) -> str:
    """Bot text as Slack mrkdwn: special characters escaped, links as ``<url|label>``."""
    out = []
    for part in split_links(text):
        if isinstance(part, Link):
            label = _escape(part.label).replace("|", "¦")
            out.append(f"<{part.url}>" if part.label == part.url else f"<{part.url}|{label}>")
        else:
            out.append(_escape(part))
    return "".join(out)


def has_message(reply: OutgoingMessage) -> bool:
    """Whether a reply is posted as a message: anything but a chart alone (uploaded as a
    file, or dropped when malformed)."""
    return bool(reply.text or reply.buttons or reply.image) or CHART_KEY not in (reply.custom or {})


def render(reply: OutgoingMessage) -> tuple[str, list[dict[str, Any]]]:
    """One reply as chat.postMessage ``text`` (the notification fallback) and Block Kit blocks."""
    blocks: list[dict[str, Any]] = []
    text = reply.text or ""
    if text:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": to_mrkdwn(text)[:3000]}}
        )
    if reply.buttons:
        elements = [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": button.title[:75], "emoji": True},
                "value": button.payload[:2000],
                "action_id": f"erp_button_{index}",
            }
            for index, button in enumerate(reply.buttons[:25])
        ]
        blocks.append({"type": "actions", "elements": elements})
    if reply.image is not None:
        blocks.append({"type": "image", "image_url": reply.image, "alt_text": "image"})
    fallback = text or ("Please choose: " + ", ".join(b.title for b in reply.buttons)
                        if reply.buttons else "image")  # fmt: skip
    return fallback, blocks


def _form(body: bytes) -> dict[str, str]:
    """A form-encoded body as single values (Slack never repeats a field)."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {key: values[0] for key, values in fields.items()}

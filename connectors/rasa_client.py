"""Async client for Rasa's gateway channel: sends an IncomingMessage, returns OutgoingMessages."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from connectors.errors import RasaUnavailable
from connectors.messages import Button, IncomingMessage, OutgoingMessage
from connectors.validation import PATH_SAFE_CHARS
from contracts.metadata import TURN, RasaRequest, turn_metadata

logger = logging.getLogger("connectors")

# Rasa's REST channel behind a bearer token (bot/rasa_channel.py), the only one Rasa exposes.
WEBHOOK_PATH = "/webhooks/gateway/webhook"
TRACKER_PATH = "/conversations/{conversation_id}/tracker"
# Rasa's own "undo the user's message" (rasa interactive): the message reverted, then the
# bot listening again. Without the listen, the resent message follows the turn's last action
# instead of a listen, and the policies do not read it in context (an open form's slot
# answered with the help menu).
TAKE_BACK_EVENTS: list[dict[str, Any]] = [
    {"event": "rewind"},
    {"event": "action", "name": "action_listen"},
]
# Waits before trying a take-back again that reached no Rasa process.
TAKE_BACK_PAUSES = (0.5, 1.0, 2.0)


class AssistantClient(Protocol):
    """What the gateway needs from Rasa; RasaClient implements it, tests may fake it."""

    async def send(self, message: IncomingMessage) -> list[OutgoingMessage]: ...

    async def healthy(self) -> bool: ...


class RasaClient:
    """Talks to a Rasa server over its gateway channel through a shared ``httpx.AsyncClient``.

    ``token`` is RASA_TOKEN: the channel's bearer token and the ``--auth-token`` of Rasa's HTTP
    API (the tracker calls).

    Example:
        >>> async with httpx.AsyncClient() as http:
        ...     rasa = RasaClient(http, base_url="http://127.0.0.1:5005", token="…")
        ...     replies = await rasa.send(IncomingMessage("u-1", "rest", "hi"))
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: str,
        timeout: float = 30.0,
        health_timeout: float = 2.0,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._health_timeout = health_timeout

    async def send(self, message: IncomingMessage) -> list[OutgoingMessage]:
        """Send one user message to Rasa and return its replies in order.

        Raises:
            RasaUnavailable: Rasa is unreachable, timed out, answered with an error status
                or with something that is not a list of replies.
        """
        url = self._base_url + WEBHOOK_PATH
        # Names this turn in the tracker, so that a take-back reverts this message or none.
        turn = uuid.uuid4().hex
        payload: RasaRequest = {
            "sender": message.sender_id,
            "message": message.text,
            # The gateway's keys go over the client's, so a client cannot claim a staff role.
            "metadata": turn_metadata(
                message.metadata,
                channel=message.channel,
                staff=message.staff,
                staff_writes=message.staff_writes,
                roles=message.staff_roles,
                client=message.client or message.sender_id,
                group=message.group,
                turn=turn,
            ),
        }
        # Encoded here rather than with httpx's json=, which uses ensure_ascii=False and
        # would fail on lone surrogates that a JSON client may put in metadata.
        body = json.dumps(payload, allow_nan=False).encode("ascii")
        try:
            response = await self._http.post(
                url,
                content=body,
                headers={"Content-Type": "application/json", **self._bearer()},
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise RasaUnavailable(
                f"Rasa did not answer within {self._timeout:g} s", url=url
            ) from None
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa is unreachable: {error!r}", url=url) from error
        if response.status_code != 200:
            raise RasaUnavailable(_status_reason(response.status_code), url=url)
        try:
            replies = response.json()
        except ValueError:
            raise RasaUnavailable("Rasa answered with a body that is not JSON", url=url) from None
        if not isinstance(replies, list):
            raise RasaUnavailable("Rasa answered with JSON that is not a list of replies", url=url)
        outgoing = [reply for raw in replies if (reply := to_outgoing(raw)) is not None]
        if not outgoing:
            # Every turn of this bot says something. Nothing means an action failed (the
            # action server was down or raised): Rasa dropped the turn (bot/rasa_turns.py),
            # or, where it kept the message without the action's events, the message is
            # taken back, so that the user's resend starts the turn again either way.
            await self._take_back(message.sender_id, turn)
            raise RasaUnavailable(
                "Rasa answered with no reply (an action failed or the action server is down)",
                url=url,
            )
        return outgoing

    async def healthy(self) -> bool:
        """Return whether Rasa answers ``GET /`` with 200 within the health timeout."""
        try:
            response = await self._http.get(self._base_url + "/", timeout=self._health_timeout)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def slots(self, conversation_id: str) -> dict[str, Any]:
        """The conversation's current slots, from Rasa's HTTP API (``--enable-api``).

        Raises:
            RasaUnavailable: Rasa is unreachable, or answered with an error or no slots.
        """
        url = self._tracker_url(conversation_id)
        # Read while opening a handoff, which must not wait long on a slow Rasa.
        data = await self._call(
            "GET", url, params={"include_events": "NONE"}, timeout=self._health_timeout
        )
        slots = data.get("slots") if isinstance(data, dict) else None
        if not isinstance(slots, dict):
            raise RasaUnavailable("Rasa answered a tracker without slots", url=url)
        return slots

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        """Append events (slots, a closed form, a note) to the conversation's tracker.

        Raises:
            RasaUnavailable: Rasa is unreachable or refused the events.
        """
        url = self._tracker_url(conversation_id) + "/events"
        await self._call("POST", url, params={"include_events": "NONE"}, body=events)

    async def _take_back(self, conversation_id: str, turn: str) -> None:
        """Revert the conversation's latest user message (Rasa's ``rewind`` event) when it is
        the message of ``turn``.

        Rasa answers an empty list both when an action failed after it kept the message and
        when the turn failed before it kept anything (an error inside Rasa): rewinding then
        would take back the message before, and the user's resend would be read out of
        context. Tried again while the rewind certainly reached no Rasa process (a replica
        that just died behind the balancer), never when it might have applied: two rewinds
        would take back one message too many.
        """
        for attempt, pause in enumerate((*TAKE_BACK_PAUSES, None), start=1):
            try:
                if not await self._kept(conversation_id, turn):
                    logger.warning("nothing to take back: Rasa kept no unanswered message")
                    return
                await self.append_events(conversation_id, TAKE_BACK_EVENTS)
                return
            except RasaUnavailable as error:
                if pause is None or not error.unprocessed:
                    logger.warning("could not take back an unanswered message (try %d): %s",
                                   attempt, error.reason)  # fmt: skip
                    return
                await asyncio.sleep(pause)

    async def _kept(self, conversation_id: str, turn: str) -> bool:
        """Whether the conversation's latest user message is the one sent in ``turn``."""
        url = self._tracker_url(conversation_id)
        data = await self._call("GET", url, params={"include_events": "NONE"})
        latest = data.get("latest_message") if isinstance(data, dict) else None
        metadata = latest.get("metadata") if isinstance(latest, dict) else None
        return isinstance(metadata, dict) and metadata.get(TURN) == turn

    def _bearer(self) -> dict[str, str]:
        # Without a token Rasa answers 401, which _status_reason explains.
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _tracker_url(self, conversation_id: str) -> str:
        return self._base_url + TRACKER_PATH.format(
            conversation_id=quote(conversation_id, safe=PATH_SAFE_CHARS)
        )

    async def _call(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str],
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        content = None if body is None else json.dumps(body, allow_nan=False).encode("ascii")
        try:
            response = await self._http.request(
                method,
                url,
                # Rasa's --auth-token is checked on the query string only.
                params={**params, "token": self._token} if self._token else params,
                content=content,
                headers={"Content-Type": "application/json"},
                timeout=self._timeout if timeout is None else timeout,
            )
        except httpx.HTTPError as error:
            raise RasaUnavailable(
                f"Rasa is unreachable: {error!r}",
                url=url,
                unprocessed=isinstance(error, httpx.ConnectError | httpx.ConnectTimeout),
            ) from error
        if response.status_code != 200:
            raise RasaUnavailable(
                _status_reason(response.status_code),
                url=url,
                unprocessed=response.status_code == 503,
            )
        try:
            return response.json()
        except ValueError:
            raise RasaUnavailable("Rasa answered with a body that is not JSON", url=url) from None


def _status_reason(status: int) -> str:
    if status in (401, 403):
        return f"Rasa answered HTTP {status}: it refused RASA_TOKEN (not the one Rasa was given)"
    return f"Rasa answered HTTP {status}"


def to_outgoing(reply: Any) -> OutgoingMessage | None:
    """Map one of Rasa's reply dicts to an OutgoingMessage, or None if it carries nothing we use."""
    if not isinstance(reply, dict):
        logger.warning("ignoring a Rasa reply that is not an object: %s", type(reply).__name__)
        return None
    text = reply.get("text")
    image = reply.get("image")
    custom = reply.get("custom")
    message = OutgoingMessage(
        text=text if isinstance(text, str) else None,
        buttons=[button for raw in reply.get("buttons") or [] if (button := _button(raw))],
        image=image if isinstance(image, str) and image else None,
        custom=custom if isinstance(custom, dict) else None,
    )
    if message == OutgoingMessage():
        logger.warning("ignoring a Rasa reply with no usable field: keys %s", sorted(reply))
        return None
    return message


def _button(raw: Any) -> Button | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("title"), str):
        return None
    payload = raw.get("payload")
    # Rasa lets a button omit its payload; sending the title back is what a user would type.
    return Button(title=raw["title"], payload=payload if isinstance(payload, str) else raw["title"])

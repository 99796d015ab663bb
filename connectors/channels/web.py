"""The web chat channel: Socket.IO speaking the protocol of Rasa's socketio channel.

Events, as rasa-webchat 1.0.1 and the gateway's own widget use them:

- client ``session_request {session_id}`` → server ``session_confirm <session_id>``, then
  ``session_history {session_id, messages}`` (the durable transcript, so history survives a
  page reload and a gateway restart; stock clients ignore the event);
- client ``user_uttered {message, session_id, customData}`` → server ``bot_typing {typing}``,
  one ``bot_uttered`` per reply (``text``, ``quick_replies``, ``attachment``), ``bot_typing``;
- an agent's reply or a handoff notice → ``bot_uttered`` pushed to the session's room at any
  time (``push``, registered with the handoff Delivery); an agent's carries
  ``metadata.agent``. With no window open it waits and arrives in ``session_history``.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

import socketio

from connectors.errors import ChannelDeliveryFailed, GatewayError
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.redaction import redact
from connectors.turns import Turns, user_notice

logger = logging.getLogger("connectors")

# rasa-webchat makes uuid4 hex ids, the gateway's widget 32 hex characters.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def new_session_id() -> str:
    return secrets.token_hex(16)


def valid_session_id(value: object) -> str | None:
    """The session id a client asked for, or None if it is missing or malformed."""
    if isinstance(value, str) and _SESSION_ID.fullmatch(value):
        return value
    return None


def render(reply: OutgoingMessage) -> list[dict[str, Any]]:
    """One reply as bot_uttered payloads, in the shapes Rasa's SocketIOOutput emits."""
    payloads: list[dict[str, Any]] = []
    if reply.text is not None or reply.buttons:
        payload: dict[str, Any] = {"text": reply.text or ""}
        if reply.buttons:
            payload["quick_replies"] = [
                {"content_type": "text", "title": b.title, "payload": b.payload}
                for b in reply.buttons
            ]
        # rasa-webchat opens links in bot text in a new tab when told to.
        payload["metadata"] = {"linkTarget": "_blank"}
        payloads.append(payload)
    if reply.image is not None:
        payloads.append({"attachment": {"type": "image", "payload": {"src": reply.image}}})
    if not payloads and reply.custom is not None:
        payloads.append(dict(reply.custom))
    return payloads


class WebChannel:
    """The Socket.IO server behind ``/socket.io``.

    Example:
        >>> web = WebChannel(turns, origins=("*",))
        >>> routes = [Mount("/socket.io", app=web.asgi_app())]
    """

    name = "web"

    def __init__(self, turns: Turns, *, origins: tuple[str, ...]) -> None:
        self.turns = turns
        cors: str | list[str] = "*" if "*" in origins else list(origins)
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins=cors,
            logger=False,
            engineio_logger=False,
            # A message is at most a few KB; refuse anything much larger at the transport.
            max_http_buffer_size=64 * 1024,
        )
        self.sio.on("connect", self._connect)
        self.sio.on("session_request", self._session_request)
        self.sio.on("user_uttered", self._user_uttered)

    def asgi_app(self) -> socketio.ASGIApp:
        return socketio.ASGIApp(self.sio, socketio_path="socket.io")

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        return True

    async def _session_request(self, sid: str, data: Any = None) -> None:
        requested = data.get("session_id") if isinstance(data, dict) else None
        session_id = valid_session_id(requested) or new_session_id()
        await self.sio.save_session(sid, {"session_id": session_id})
        # One room per session: every open tab of the same visitor sees the replies.
        await self.sio.enter_room(sid, session_id)
        await self.sio.emit("session_confirm", session_id, to=sid)
        delivery = self.turns.queue.delivery if self.turns.queue is not None else None
        read_at = delivery.clock() if delivery is not None else 0.0
        history = await self.turns.store.history(_conversation_id(session_id))
        await self.sio.emit(
            "session_history", {"session_id": session_id, "messages": history}, to=sid
        )
        if delivery is not None:
            # What an agent wrote while no window was open is in that history now.
            await delivery.mark_delivered(_conversation_id(session_id), created_before=read_at)

    async def _user_uttered(self, sid: str, data: Any = None) -> None:
        saved = await self.sio.get_session(sid)
        session_id = saved.get("session_id") if saved else None
        if session_id is None:
            # A client that skipped session_request: Rasa's channel accepts it, so do we.
            session_id = valid_session_id(_get(data, "session_id")) or sid
            await self.sio.save_session(sid, {"session_id": session_id})
            await self.sio.enter_room(sid, session_id)
        text = _get(data, "message")
        if not isinstance(text, str):
            await self._say(session_id, "Sorry, I can't read that message: it has no text.")
            return
        metadata = _get(data, "customData") or _get(data, "metadata") or {}
        message = IncomingMessage(
            sender_id=_conversation_id(session_id),
            channel=self.name,
            text=text,
            metadata=metadata if isinstance(metadata, dict) else {},
        )
        await self.sio.emit("bot_typing", {"typing": True}, room=session_id)
        try:
            replies = await self.turns.handle(message)
        except GatewayError as error:
            logger.info("web turn not answered for %s: %s", redact(session_id), error)
            replies = [OutgoingMessage(text=user_notice(error))]
        try:
            for reply in replies:
                for payload in render(reply):
                    await self.sio.emit("bot_uttered", payload, room=session_id)
        finally:
            await self.sio.emit("bot_typing", {"typing": False}, room=session_id)

    async def push(self, conversation_id: str, messages: list[OutgoingMessage]) -> None:
        """Deliver messages the user did not just ask for (an agent's reply) to every open tab.

        Raises:
            ChannelDeliveryFailed: no window of the session is connected; the Delivery keeps
                the message, and a reconnecting widget gets it in ``session_history``.
        """
        session_id = conversation_id.removeprefix("web:")
        if not any(True for _ in self.sio.manager.get_participants("/", session_id)):
            raise ChannelDeliveryFailed("web", "no chat window is open for this session")
        for message in messages:
            agent = (message.custom or {}).get("agent")
            for payload in render(message):
                if isinstance(agent, str) and "text" in payload:
                    payload["metadata"] = {**payload.get("metadata", {}), "agent": agent}
                await self.sio.emit("bot_uttered", payload, room=session_id)

    async def show_draft(self, conversation_id: str, text: str) -> bool:
        """Show the answer so far as a draft the final ``bot_uttered`` replaces.

        The event is ``bot_streaming {text}``; stock rasa-webchat clients ignore it and
        show only the final answer. Returns False for conversations of other channels.
        """
        if not conversation_id.startswith("web:"):
            return False
        session_id = conversation_id.removeprefix("web:")
        await self.sio.emit("bot_streaming", {"text": text}, room=session_id)
        return True

    async def _say(self, session_id: str, text: str) -> None:
        for payload in render(OutgoingMessage(text=text)):
            await self.sio.emit("bot_uttered", payload, room=session_id)


def _conversation_id(session_id: str) -> str:
    return f"web:{session_id}"


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None

"""The web chat channel: Socket.IO speaking the protocol of Rasa's socketio channel.

Events, as rasa-webchat 1.0.1 and the gateway's own widget use them:

- client ``session_request {session_id}`` → server ``session_confirm <token>``, then
  ``session_history {session_id, messages}`` (the durable transcript, so history survives a
  page reload and a gateway restart; stock clients ignore the event);
- client ``user_uttered {message, session_id, customData}`` → server ``bot_typing {typing}``,
  one ``bot_uttered`` per reply (``text``, ``quick_replies``, ``attachment``), ``bot_typing``;
- an agent's reply or a handoff notice → ``bot_uttered`` pushed to the session's room at any
  time (``push``, registered with the handoff Delivery); an agent's carries
  ``metadata.agent``. With no window open it waits and arrives in ``session_history``;
- when the conversation verifies a customer, ``session_confirm <new token>`` to the window
  that verified (the widget stores it); every other window of the conversation is
  disconnected, and their old token no longer opens it.

The session id is a token the server issues (``SessionTokens``), never one the browser
makes up: a requested id that is not a valid, unexpired token of the conversation's current
generation gets a new, empty conversation. The conversation id is ``web:<conversation key>``.

Several gateway replicas (``SOCKETIO_REDIS_URL``) pass every emit and every disconnect of a
window held by another replica through Socket.IO's Redis manager (channel
``<prefix>:socketio``), and share which windows are open (``presence.RedisPresence``): a
window on any replica gets the replies, pushes and rotations of its conversation. Without
it, one process keeps both in memory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import socketio

from connectors.channels.presence import LocalPresence, Presence, PresenceUnknown, RedisPresence
from connectors.errors import (
    ChannelDeliveryFailed,
    GatewayError,
    RasaUnavailable,
    StoreUnavailable,
)
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.turns import Turns, user_notice
from contracts.redaction import conversation_tag

logger = logging.getLogger("connectors")

# key (128 random bits) . generation . expiry (unix seconds) . signature (128 bits of HMAC).
_TOKEN = re.compile(r"([A-Za-z0-9_-]{22})\.(\d{1,9})\.(\d{1,12})\.([A-Za-z0-9_-]{22})")
MAX_TOKEN_CHARS = 80
VERIFICATION_SLOT = "verification"
DAY_SECONDS = 24 * 3600.0

# Set by the after-Rasa hook inside a turn, read by the handler that sent it (same context).
_answered_by_rasa: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "web_answered_by_rasa", default=False
)


@dataclass(frozen=True)
class SessionClaim:
    """What a valid session token proves: its conversation key and generation."""

    key: str
    generation: int


class SessionTokens:
    """Issues and checks web chat session tokens: ``<key>.<generation>.<expiry>.<signature>``.

    The key (128 random bits) names the conversation; the HMAC-SHA256 signature (with
    ``WEB_SESSION_SECRET``) makes every part unforgeable; the expiry ends an unused token;
    the generation lets a rotation retire every older token of the conversation. At most 80
    characters of ``A-Z a-z 0-9 _ - .``, so rasa-webchat stores and re-sends it unchanged.

    Example:
        >>> tokens = SessionTokens(b"s" * 32, max_age=7 * DAY_SECONDS)
        >>> claim = tokens.read(tokens.issue("AAAAAAAAAAAAAAAAAAAAAA", 0))
        >>> (claim.key, claim.generation) if claim else None
        ('AAAAAAAAAAAAAAAAAAAAAA', 0)
    """

    def __init__(
        self, secret: bytes, *, max_age: float, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError(f"the session secret must be at least 16 bytes, got {len(secret)}")
        self._secret = secret
        self.max_age = max_age
        self._clock = clock

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(16)

    def issue(self, key: str, generation: int) -> str:
        body = f"{key}.{generation}.{int(self._clock() + self.max_age)}"
        return f"{body}.{self._sign(body)}"

    def read(self, token: object) -> SessionClaim | None:
        """The claim of a token this secret signed and that has not expired, else None."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            return None
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        key, generation, expires, signature = match.groups()
        body = f"{key}.{generation}.{expires}"
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        if int(expires) <= self._clock():
            return None
        return SessionClaim(key, int(generation))

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._secret, b"web-session:" + body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def session_secret(configured: str) -> bytes:
    """``WEB_SESSION_SECRET``, or one random key for the process (sessions end with it)."""
    return configured.encode() if configured else _process_secret()


@lru_cache(maxsize=1)
def _process_secret() -> bytes:
    logger.warning("WEB_SESSION_SECRET is not set: web chat sessions last while this process runs")
    return secrets.token_bytes(32)


def verification_fingerprint(value: object, *, conversation_id: str, secret: bytes) -> str | None:
    """A short digest of who the conversation is verified as, None when it is not.

    The customer and factors of a readable verification record (so re-signing the same
    verification does not count as new); any other non-empty value is digested as it is,
    so a change the gateway cannot read still rotates the session, never the other way.
    """
    if not value:
        return None
    # Imported here: the gateway starts without importing erp (its database drivers).
    from erp.access import read_verification

    verification = read_verification(
        value, secret=secret, conversation_id=conversation_id, now=time.time()
    )
    if verification is None:
        seen = f"raw:{value}"
    else:
        seen = f"{verification.customer_id}:{','.join(sorted(verification.factors))}"
    return hashlib.sha256(seen.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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


def origin_check(origins: tuple[str, ...]) -> Callable[[str | None, Mapping[str, Any]], bool]:
    """Which page origins may open the chat: the gateway's own, those listed, or any (``*``).

    The gateway's own origin is the scheme and the ``Host`` the browser connected to; a page
    on another site cannot make a browser send a different Host with its own Origin.
    """
    listed = frozenset(origins)

    def allowed(origin: str | None, environ: Mapping[str, Any]) -> bool:
        if origin is None:
            return False
        if "*" in listed or origin in listed:
            return True
        host = environ.get("HTTP_HOST", "")
        return bool(host) and origin in (f"http://{host}", f"https://{host}")

    return allowed


@runtime_checkable
class _SlotReader(Protocol):
    async def slots(self, conversation_id: str) -> dict[str, Any]: ...


class WebChannel:
    """The Socket.IO server behind ``/socket.io``.

    With ``redis_url`` (``redis://user@host:port/db``, the password apart in
    ``redis_password``) the replicas of the gateway share one Socket.IO server through Redis:
    the channel ``<redis_prefix>:socketio`` and the keys ``<redis_prefix>:presence:*``.

    Example:
        >>> web = WebChannel(turns, origins=(), tokens=SessionTokens(secret, max_age=604800))
        >>> routes = [Mount("/socket.io", app=web.asgi_app())]
    """

    name = "web"

    def __init__(
        self,
        turns: Turns,
        *,
        origins: tuple[str, ...],
        tokens: SessionTokens,
        verifications: bytes | None = None,
        redis_url: str = "",
        redis_password: str = "",
        redis_prefix: str = "erpassistant",
    ) -> None:
        """``verifications`` is the key of the action server's verification records
        (``VERIFICATION_SECRET`` by default), to tell a new verification from a re-signed one.
        ``redis_url`` empty: one gateway process, everything in memory."""
        from erp.access import verification_secret

        self.turns = turns
        self.tokens = tokens
        self._verification_secret = (
            verifications if verifications is not None else verification_secret()
        )
        manager = (
            socketio.AsyncRedisManager(
                redis_url,
                channel=f"{redis_prefix}:socketio",
                redis_options=_redis_options(redis_password),
            )
            if redis_url
            else None  # socketio's in-memory AsyncManager
        )
        self.sio = socketio.AsyncServer(
            client_manager=manager,
            async_mode="asgi",
            cors_allowed_origins=origin_check(origins),
            logger=False,
            engineio_logger=False,
            # A message is at most a few KB; refuse anything much larger at the transport.
            max_http_buffer_size=64 * 1024,
        )
        self.presence: Presence = (
            RedisPresence(
                redis_url,
                prefix=redis_prefix,
                password=redis_password,
                connected=lambda sid: self.sio.manager.is_connected(sid, "/"),
            )
            if redis_url
            else LocalPresence(self.sio.manager)
        )
        self._closer: asyncio.Task[None] | None = None
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("session_request", self._session_request)
        self.sio.on("user_uttered", self._user_uttered)
        turns.after_rasa.append(self._after_rasa)

    def asgi_app(self) -> socketio.ASGIApp:
        return socketio.ASGIApp(self.sio, socketio_path="socket.io")

    async def close(self) -> None:
        """Stop sharing through Redis: this replica's windows leave the presence, the
        Socket.IO manager stops listening, the connections close. Nothing to do without it."""
        await self.presence.close()
        manager = self.sio.manager
        if isinstance(manager, socketio.AsyncRedisManager):
            listener = getattr(manager, "thread", None)  # set once the manager initialized
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
            if manager.pubsub is not None:
                await manager.pubsub.aclose()
            if manager.redis is not None:
                await manager.redis.aclose()

    def _close_with_the_loop(self) -> None:
        """With Redis, call `close` when the server's event loop ends.

        The gateway's lifespan has no step for the web channel; when uvicorn's loop ends,
        asyncio cancels every task left, this one included, and it closes the channel then.
        """
        if isinstance(self.sio.manager, socketio.AsyncRedisManager) and self._closer is None:
            self._closer = asyncio.get_running_loop().create_task(self._close_when_cancelled())

    async def _close_when_cancelled(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        self._close_with_the_loop()
        # engine.io's ASGI environ has REMOTE_ADDR fixed at 127.0.0.1; the peer is in the scope.
        peer = (environ.get("asgi.scope") or {}).get("client") or ("unknown", 0)
        await self.sio.save_session(sid, {"client": f"ip:{peer[0]}"})
        return True

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        await self.presence.leave(sid)

    async def _session_request(self, sid: str, data: Any = None) -> None:
        try:
            await self._open(sid, _get(data, "session_id"))
        except StoreUnavailable as error:
            await self._unavailable(sid, error)

    async def _unavailable(self, sid: str, error: StoreUnavailable) -> None:
        """Tell this window (only: its session is unknown) that nothing could be done."""
        logger.warning("web event not handled: %s", error)
        for payload in render(OutgoingMessage(text=user_notice(error))):
            await self.sio.emit("bot_uttered", payload, to=sid)
        await self.sio.emit("bot_typing", {"typing": False}, to=sid)

    async def _open(self, sid: str, requested: Any) -> tuple[str, int]:
        """Join the socket to the conversation its token proves, or to a new one."""
        claim = self.tokens.read(requested)
        if claim is not None and claim.generation == await self.turns.store.session_generation(
            claim.key
        ):
            key, generation = claim.key, claim.generation
        else:
            if requested:
                logger.info("web session request with an invalid or retired token: new session")
            key, generation = SessionTokens.new_key(), 0
        async with self.sio.session(sid) as session:
            previous = session.get("key")
            session["key"] = key
            session["generation"] = generation
        if previous is not None and previous != key:
            await self.sio.leave_room(sid, previous)
        # One room per conversation: every open tab of the same visitor sees the replies.
        await self.sio.enter_room(sid, key)
        await self.presence.join(key, sid)
        if generation != await self.turns.store.session_generation(key):
            # Rotated while this window joined (a rotation disconnects only the windows
            # already in the room): the token it came with is retired, so it starts afresh.
            await self.sio.leave_room(sid, key)
            return await self._open(sid, None)
        token = self.tokens.issue(key, generation)
        await self.sio.emit("session_confirm", token, to=sid)
        conversation_id = _conversation_id(key)
        delivery = self.turns.queue.delivery if self.turns.queue is not None else None
        mark = await delivery.newest(conversation_id) if delivery is not None else 0
        history = await self.turns.store.history(conversation_id)
        await self.sio.emit("session_history", {"session_id": token, "messages": history}, to=sid)
        if delivery is not None:
            # What an agent wrote while no window was open is in that history now.
            await delivery.mark_delivered(conversation_id, up_to=mark)
        return key, generation

    async def _user_uttered(self, sid: str, data: Any = None) -> None:
        try:
            await self._answer(sid, data)
        except StoreUnavailable as error:
            # Also when a verification could not be recorded: the answer that followed it is
            # then not sent to the room, where a copy of the old token might be listening.
            await self._unavailable(sid, error)

    async def _answer(self, sid: str, data: Any) -> None:
        saved = await self.sio.get_session(sid)
        key = saved.get("key")
        if key is None:
            # A client that skipped session_request: Rasa's channel accepts it, so do we,
            # with the same check of the token it sends.
            key, _ = await self._open(sid, _get(data, "session_id"))
        elif saved.get("generation") != await self.turns.store.session_generation(key):
            # This window's token was retired by a verification in another window: it is a
            # copy from before the customer proved who they are, and gets nothing more.
            logger.info("web message on a retired token of %s: disconnected",
                        conversation_tag(_conversation_id(key)))  # fmt: skip
            await self.sio.disconnect(sid)
            return
        text = _get(data, "message")
        if not isinstance(text, str):
            await self._say(key, "Sorry, I can't read that message: it has no text.")
            return
        metadata = _get(data, "customData") or _get(data, "metadata") or {}
        message = IncomingMessage(
            sender_id=_conversation_id(key),
            channel=self.name,
            text=text,
            metadata=metadata if isinstance(metadata, dict) else {},
            client=str(saved.get("client") or "ip:unknown"),
            group=False,
        )
        _answered_by_rasa.set(False)
        await self.sio.emit("bot_typing", {"typing": True}, room=key)
        try:
            replies = await self.turns.handle(message)
        except StoreUnavailable:
            raise
        except GatewayError as error:
            logger.info(
                "web turn not answered for %s: %s", conversation_tag(message.sender_id), error
            )
            replies = [OutgoingMessage(text=user_notice(error, message.text))]
        if _answered_by_rasa.get():
            # Before the replies: the answer that follows a verification must reach only the
            # window that verified, never a copy of the old token (one loopback call to Rasa).
            await self._check_verification(sid, key)
        try:
            for reply in replies:
                for payload in render(reply):
                    await self.sio.emit("bot_uttered", payload, room=key)
        finally:
            await self.sio.emit("bot_typing", {"typing": False}, room=key)

    def _after_rasa(self, message: IncomingMessage) -> None:
        if message.channel == self.name:
            _answered_by_rasa.set(True)

    async def _check_verification(self, sid: str, key: str) -> None:
        """Rotate the session when Rasa's tracker shows a new verification.

        The window that sent the verifying message gets the new token; every other window
        in the conversation is disconnected, on whichever replica it is (Socket.IO's Redis
        manager passes the disconnect of a sid it does not hold to the others), so a copy of
        the old token taken before the customer proved who they are never sees what comes
        after.
        """
        rasa = getattr(self.turns, "rasa", None)
        if not isinstance(rasa, _SlotReader):
            return
        conversation_id = _conversation_id(key)
        try:
            slots = await rasa.slots(conversation_id)
        except RasaUnavailable as error:
            logger.info(
                "web session of %s not checked for a verification: %s",
                conversation_tag(conversation_id),
                error,
            )
            return
        fingerprint = verification_fingerprint(
            slots.get(VERIFICATION_SLOT),
            conversation_id=conversation_id,
            secret=self._verification_secret,
        )
        generation = await self.turns.store.rotate_on_verification(key, fingerprint)
        if generation is None:
            return
        try:
            windows = await self.presence.sids(key)
        except PresenceUnknown as error:
            # Those on other replicas are out of reach too; each is disconnected at its next
            # message, whose token is retired.
            logger.warning(
                "web session of %s rotated with the windows of other replicas unknown: %s",
                conversation_tag(conversation_id),
                error,
            )
            windows = [other for other, _ in self.sio.manager.get_participants("/", key)]
        others = [other for other in windows if other != sid]
        if self.sio.manager.is_connected(sid, "/"):
            async with self.sio.session(sid) as session:
                session["generation"] = generation
            await self.sio.emit("session_confirm", self.tokens.issue(key, generation), to=sid)
        for other in others:
            await self.sio.disconnect(other)
        logger.info(
            "web session of %s rotated to generation %d on a verification (%d other window(s) "
            "disconnected)",
            conversation_tag(conversation_id),
            generation,
            len(others),
        )

    async def push(self, conversation_id: str, messages: list[OutgoingMessage]) -> None:
        """Deliver messages the user did not just ask for (an agent's reply) to every open tab.

        Whichever replica pushes, the emit reaches the windows on every replica. When the
        shared presence is unknown (Redis down) the message is emitted all the same: the
        windows on this replica get it, and it is in the transcript every window reloads
        (``session_history``), so it is not lost; refusing would hold it back from windows
        that are there.

        Raises:
            ChannelDeliveryFailed: no window of the session is connected to any replica; the
                Delivery keeps the message, and a reconnecting widget gets it in
                ``session_history``.
        """
        self._close_with_the_loop()
        key = conversation_id.removeprefix("web:")
        try:
            windows = await self.presence.sids(key)
        except PresenceUnknown as error:
            logger.warning(
                "web push to %s with presence unknown, emitted anyway: %s",
                conversation_tag(conversation_id),
                error,
            )
        else:
            if not windows:
                raise ChannelDeliveryFailed("web", "no chat window is open for this session")
        for message in messages:
            agent = (message.custom or {}).get("agent")
            for payload in render(message):
                if isinstance(agent, str) and "text" in payload:
                    payload["metadata"] = {**payload.get("metadata", {}), "agent": agent}
                await self.sio.emit("bot_uttered", payload, room=key)

    async def show_draft(self, conversation_id: str, text: str) -> bool:
        """Show the answer so far as a draft the final ``bot_uttered`` replaces.

        The event is ``bot_streaming {text}``; stock rasa-webchat clients ignore it and
        show only the final answer. Returns False for conversations of other channels.
        """
        if not conversation_id.startswith("web:"):
            return False
        self._close_with_the_loop()
        await self.sio.emit("bot_streaming", {"text": text}, room=conversation_id[4:])
        return True

    async def _say(self, key: str, text: str) -> None:
        for payload in render(OutgoingMessage(text=text)):
            await self.sio.emit("bot_uttered", payload, room=key)


def _redis_options(password: str) -> dict[str, Any]:
    """How Socket.IO's Redis manager connects: the password apart from the URL (one in the
    URL wins), and no read timeout, so that its subscription waits as long as it takes."""
    options: dict[str, Any] = {"socket_connect_timeout": 2.0}
    if password:
        options["password"] = password
    return options


def _conversation_id(key: str) -> str:
    return f"web:{key}"


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None

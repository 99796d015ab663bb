"""One chat window on the gateway's web channel, timing each turn as the customer sees it.

A turn starts when ``user_uttered`` is sent. Its *first text* is the first ``bot_streaming``
draft or ``bot_uttered`` reply; its *final* answer is the last ``bot_uttered`` before the
turn ends. The turn ends at the gateway's ``bot_typing {typing: false}`` followed by ``settle``
seconds without another event, so that wording sent after the first answer still counts.

A socket that drops (its gateway replica died) is handled as the widget does: the window
connects again and resumes its session with its token (``session_request``) before the next
message. A turn whose socket dropped counts as answered when the resumed session's history
holds a reply to it (the widget shows that history), else as the error ``disconnected``.

Example:
    >>> chat = WebChat("http://127.0.0.1:8080")
    >>> chat.new_session()
    >>> reply = chat.say("is WID-1001 in stock?")
    >>> reply.error, round(reply.final_s or 0, 1)
    (None, 0.4)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import socketio

# What a reply says when the assistant could not answer (connectors/turns.user_notice,
# actions/replies.py): counted as an error of the turn, not as an answer.
ERROR_PHRASES = (
    "temporarily unavailable",
    "something went wrong",
    "faster than i can answer",
    "can't reach our order system",
)
CONNECT_TIMEOUT_S = 10.0
# How often a wait for the next event checks that the socket is still there: a dropped one is
# seen within this, not at the end of the turn's timeout.
POLL_S = 0.25
# A window whose socket dropped tries to connect again after this, then twice as long each time.
RECONNECT_FIRST_DELAY_S = 0.5


@dataclass
class Reply:
    """What one turn got: seconds to the first text and to the final answer, the texts, and
    why it failed (None when it did not)."""

    first_s: float | None = None
    final_s: float | None = None
    texts: list[str] = field(default_factory=list)
    error: str | None = None
    # The window's socket had dropped (its gateway replica died) since the previous turn or
    # during this one, and the window connected again (resuming an open session).
    reconnected: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


def answered_in(history: Sequence[Any], text: str) -> list[str] | None:
    """The bot's replies to the last user message ``text`` in a session's history (its
    ``messages``), or None when that message is not there or nothing answered it."""
    users = [i for i, entry in enumerate(history) if _role(entry) == "user"]
    mine = [i for i in users if (history[i] or {}).get("text") == text]
    if not mine:
        return None
    later = [i for i in users if i > mine[-1]]
    end = later[0] if later else len(history)
    replies = [str(e.get("text") or "") for e in history[mine[-1] + 1 : end] if _role(e) != "user"]
    return replies or None


def _role(entry: Any) -> str:
    return str(entry.get("role")) if isinstance(entry, dict) else ""


def error_reply(texts: Sequence[str]) -> str | None:
    """The first reply that is the assistant's "could not answer", else None."""
    for text in texts:
        lowered = text.lower()
        if any(phrase in lowered for phrase in ERROR_PHRASES):
            return text
    return None


class WebChat:
    """A rasa-webchat-like client: one socket, one session token, one turn at a time."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        settle: float = 1.0,
        cookie: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``cookie`` (``name=value``) is sent with every connection: the balancer's sticky
        cookie places the window on one gateway replica, as it does a browser's."""
        self.url = url
        self.timeout = timeout
        self.settle = settle
        self.cookie = cookie
        self._clock = clock
        self._client: socketio.SimpleClient | None = None
        self._token: str | None = None
        # The socket dropped between visits: told with the next turn.
        self._dropped = False

    @property
    def conversation(self) -> str:
        """The gateway's id of the current conversation (``web:<key>``), "" before one."""
        return f"web:{self._token.split('.')[0]}" if self._token else ""

    def new_session(self) -> None:
        """Open a new conversation (connecting first if needed), as a new visit to the site.

        Raises:
            ConnectionError: the gateway refused or did not answer the connection.
        """
        if self._client is not None and not self._client.connected:
            self.close()  # dropped (its replica died): a new visit connects anew
            self._dropped = True
        client = self._connected()
        deadline = self._clock() + CONNECT_TIMEOUT_S
        try:
            client.emit("session_request", {})
            while True:
                event, data = self._receive(client, deadline - self._clock())
                if event == "session_confirm":
                    self._token = data if isinstance(data, str) else None
                if event == "session_history":
                    return
        except (socketio.exceptions.TimeoutError, socketio.exceptions.DisconnectedError) as e:
            self.close()
            raise ConnectionError(f"no session from {self.url}: {e!r}") from None

    def say(self, text: str) -> Reply:
        """Send ``text`` and wait for the end of the assistant's turn; never raises.

        A socket that dropped since the last turn is connected again and the session resumed
        first; a window closed with :meth:`close` stays closed ("not connected")."""
        reply = Reply(reconnected=self._dropped)
        self._dropped = False
        client = self._client
        if client is None:
            reply.error = "not connected"
            return reply
        if not client.connected:
            try:
                self._resume()
            except ConnectionError as error:
                reply.error = f"not sent: the socket dropped, and {error}"
                self.close()
                return reply
            reply.reconnected = True
            client = self._connected()
        started = deadline = self._clock()
        ended = False
        try:
            self._take_pending(client)
            started = self._clock()
            deadline = started + self.timeout
            client.emit("user_uttered", {"message": text, "session_id": self._token})
            while True:
                wait = self.settle if ended else deadline - self._clock()
                try:
                    event, data = self._receive(client, wait)
                except socketio.exceptions.TimeoutError:
                    if ended:
                        break
                    reply.error = f"no end of turn within {self.timeout:g} s"
                    break
                now = self._clock() - started
                if event == "bot_streaming" and reply.first_s is None:
                    reply.first_s = now
                elif event == "bot_uttered":
                    reply.first_s = now if reply.first_s is None else reply.first_s
                    reply.final_s = now
                    reply.texts.append(str((data or {}).get("text") or ""))
                elif event == "session_confirm" and isinstance(data, str):
                    self._token = data
                elif event == "bot_typing" and not (data or {}).get("typing"):
                    ended = True
        except socketio.exceptions.DisconnectedError:
            self._answer_from_history(text, reply, started)
        except Exception as error:  # a load test records a failure, it does not crash
            reply.error = f"socket error: {error!r}"
            self.close()
        if reply.error is None and reply.final_s is None:
            reply.error = "the turn ended without a reply"
        if reply.error is None and (failed := error_reply(reply.texts)) is not None:
            reply.error = f"error reply: {failed[:120]}"
        return reply

    def _answer_from_history(self, text: str, reply: Reply, started: float) -> None:
        """The socket dropped during the turn: resume the session on whichever replica the
        balancer gives, and take the answer from its history when the turn got one."""
        try:
            history = self._resume()
        except ConnectionError as error:
            reply.error = f"disconnected, and {error}"
            self.close()
            return
        reply.reconnected = True
        answer = answered_in(history, text)
        if answer is None:
            reply.error = "disconnected: no reply to this message in the session's history"
            return
        now = self._clock() - started
        reply.first_s = now if reply.first_s is None else reply.first_s
        reply.final_s = now
        reply.texts = answer

    def _resume(self) -> list[Any]:
        """Connect again and reopen the session with its token; its history's messages.

        Raises:
            ConnectionError: no connection, no session, or the token no longer opens the
                conversation (a new, empty one came back).
        """
        before = self.conversation
        dropped, self._client = self._client, None
        if dropped is not None:
            with contextlib.suppress(Exception):
                dropped.disconnect()
        deadline = self._clock() + CONNECT_TIMEOUT_S
        delay = RECONNECT_FIRST_DELAY_S
        while True:
            try:
                client = self._connected()
                break
            except ConnectionError:
                # As the widget does: again after 0.5 s, 1 s, 2 s... (the balancer may not
                # have taken the dead replica out yet).
                if self._clock() + delay > deadline:
                    raise
                time.sleep(delay)
                delay *= 2
        try:
            client.emit("session_request", {"session_id": self._token})
            while True:
                event, data = self._receive(client, deadline - self._clock())
                if event == "session_confirm" and isinstance(data, str):
                    self._token = data
                if event == "session_history":
                    break
        except (socketio.exceptions.TimeoutError, socketio.exceptions.DisconnectedError) as e:
            raise ConnectionError(f"no session from {self.url}: {e!r}") from None
        if before and self.conversation != before:
            raise ConnectionError("the session could not be resumed: a new one was opened")
        return list((data or {}).get("messages") or [])

    def close(self) -> None:
        """Disconnect; the next :meth:`new_session` connects again."""
        client, self._client = self._client, None
        if client is not None:
            # Already gone is as good as closed.
            with contextlib.suppress(Exception):
                client.disconnect()

    def _connected(self) -> socketio.SimpleClient:
        if self._client is None:
            # Reconnecting is this class's job: it resumes the session, as the widget does.
            client = socketio.SimpleClient(reconnection=False)
            headers = {"Cookie": self.cookie} if self.cookie else {}
            try:
                client.connect(self.url, headers=headers, transports=["websocket"],
                               wait_timeout=CONNECT_TIMEOUT_S)  # fmt: skip
            except socketio.exceptions.ConnectionError as error:
                raise ConnectionError(f"cannot connect to {self.url}: {error}") from None
            self._client = client
        return self._client

    def _take_pending(self, client: socketio.SimpleClient) -> None:
        """Read what arrived after the last turn ended, keeping a rotated session token."""
        while True:
            try:
                event, data = client.receive(timeout=0.001)
            except socketio.exceptions.TimeoutError:
                return
            if event == "session_confirm" and isinstance(data, str):
                self._token = data

    def _receive(self, client: socketio.SimpleClient, timeout: float) -> tuple[str, Any]:
        """The next event within ``timeout`` seconds.

        Raises:
            socketio.exceptions.TimeoutError: none came.
            socketio.exceptions.DisconnectedError: the socket dropped (seen within POLL_S).
        """
        deadline = self._clock() + timeout
        while True:
            left = deadline - self._clock()
            try:
                event = client.receive(timeout=max(0.001, min(POLL_S, left)))
            except socketio.exceptions.TimeoutError:
                # What arrived before a drop is read first; then the drop ends the wait.
                if not client.connected:
                    raise socketio.exceptions.DisconnectedError() from None
                if left <= POLL_S:
                    raise
                continue
            return str(event[0]), event[1] if len(event) > 1 else None

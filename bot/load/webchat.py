"""One chat window on the gateway's web channel, timing each turn as the customer sees it.

A turn starts when ``user_uttered`` is sent. Its *first text* is the first ``bot_streaming``
draft or ``bot_uttered`` reply; its *final* answer is the last ``bot_uttered`` before the
turn ends. The turn ends at the gateway's ``bot_typing {typing: false}`` followed by ``settle``
seconds without another event, so that wording sent after the first answer still counts.

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


@dataclass
class Reply:
    """What one turn got: seconds to the first text and to the final answer, the texts, and
    why it failed (None when it did not)."""

    first_s: float | None = None
    final_s: float | None = None
    texts: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.settle = settle
        self._clock = clock
        self._client: socketio.SimpleClient | None = None
        self._token: str | None = None

    def new_session(self) -> None:
        """Open a new conversation (connecting first if needed), as a new visit to the site.

        Raises:
            ConnectionError: the gateway refused or did not answer the connection.
        """
        client = self._connected()
        client.emit("session_request", {})
        deadline = self._clock() + CONNECT_TIMEOUT_S
        try:
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
        """Send ``text`` and wait for the end of the assistant's turn; never raises."""
        reply = Reply()
        client = self._client
        if client is None:
            reply.error = "not connected"
            return reply
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
            reply.error = "disconnected"
            self.close()
        except Exception as error:  # a load test records a failure, it does not crash
            reply.error = f"socket error: {error!r}"
            self.close()
        if reply.error is None and reply.final_s is None:
            reply.error = "the turn ended without a reply"
        if reply.error is None and (failed := error_reply(reply.texts)) is not None:
            reply.error = f"error reply: {failed[:120]}"
        return reply

    def close(self) -> None:
        """Disconnect; the next :meth:`new_session` connects again."""
        client, self._client = self._client, None
        if client is not None:
            # Already gone is as good as closed.
            with contextlib.suppress(Exception):
                client.disconnect()

    def _connected(self) -> socketio.SimpleClient:
        if self._client is None:
            client = socketio.SimpleClient()
            try:
                client.connect(self.url, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S)
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

    @staticmethod
    def _receive(client: socketio.SimpleClient, timeout: float) -> tuple[str, Any]:
        event = client.receive(timeout=max(0.001, timeout))
        return str(event[0]), event[1] if len(event) > 1 else None

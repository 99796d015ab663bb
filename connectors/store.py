"""The gateway's durable state in SQLite: transcripts, Slack event ids, long button payloads."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Literal, TypedDict

import anyio.to_thread

from connectors.messages import OutgoingMessage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transcript (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'bot')),
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS transcript_by_conversation ON transcript (conversation_id, id);
CREATE TABLE IF NOT EXISTS processed_events (
    event_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS button_payloads (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

EVENT_TTL_SECONDS = 24 * 3600
HISTORY_LIMIT = 200


class HistoryButton(TypedDict):
    title: str
    payload: str


class HistoryEntry(TypedDict):
    role: Literal["user", "bot"]
    text: str | None
    buttons: list[HistoryButton]
    image: str | None
    at: float


class GatewayStore:
    """SQLite-backed state that must survive a gateway restart.

    Calls are small and run in a worker thread so they never block the event loop; one
    connection is shared under a lock (SQLite serialises writers anyway).

    Example:
        >>> store = GatewayStore(":memory:")
        >>> anyio.run(store.claim_event, "Ev01"), anyio.run(store.claim_event, "Ev01")
        (True, False)
    """

    def __init__(self, path: str | Path) -> None:
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    async def append_user(self, conversation_id: str, text: str) -> None:
        """Record what the user said (or the title of the button they clicked)."""
        body = {"text": text}
        await self._run(self._insert, conversation_id, "user", body)

    async def append_bot(self, conversation_id: str, replies: list[OutgoingMessage]) -> None:
        """Record the bot's replies to one turn, in order."""
        for reply in replies:
            body: dict[str, Any] = {
                "text": reply.text,
                "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
                "image": reply.image,
            }
            await self._run(self._insert, conversation_id, "bot", body)

    async def history(self, conversation_id: str, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
        """The last ``limit`` transcript entries of a conversation, oldest first."""
        return await self._run(self._history, conversation_id, limit)

    async def button_title(self, conversation_id: str, payload: str) -> str | None:
        """The title of the button with ``payload`` in the bot's last message, if it had one."""
        for entry in reversed(await self.history(conversation_id, limit=10)):
            if entry["role"] == "user":
                return None
            for button in entry["buttons"]:
                if button["payload"] == payload:
                    return button["title"]
        return None

    async def claim_event(self, event_id: str) -> bool:
        """Mark a platform event as taken; False if it was already taken (a retry)."""
        return await self._run(self._claim, event_id)

    async def shorten(self, payload: str) -> str:
        """A short, stable key for a button payload too long for a channel (Telegram: 64 bytes)."""
        digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).digest()[:16]
        key = "k:" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
        await self._run(self._execute, "INSERT OR IGNORE INTO button_payloads VALUES (?, ?, ?)",
                        (key, payload, time.time()))  # fmt: skip
        return key

    async def expand(self, key: str) -> str | None:
        """The payload stored under ``key`` by ``shorten``, or None if unknown."""
        rows = await self._run(
            self._query, "SELECT payload FROM button_payloads WHERE key = ?", (key,)
        )
        return str(rows[0][0]) if rows else None

    # Blocking parts, run in a worker thread.

    async def _run(self, function: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args)

    def _execute(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _insert(self, conversation_id: str, role: str, body: dict[str, Any]) -> None:
        self._execute(
            "INSERT INTO transcript (conversation_id, role, body, created_at) VALUES (?, ?, ?, ?)",
            (conversation_id, role, json.dumps(body), time.time()),
        )

    def _history(self, conversation_id: str, limit: int) -> list[HistoryEntry]:
        rows = self._query(
            "SELECT role, body, created_at FROM transcript WHERE conversation_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (conversation_id, limit),
        )
        entries: list[HistoryEntry] = []
        for role, body, created_at in reversed(rows):
            data = json.loads(body)
            entries.append(
                HistoryEntry(
                    role=role,
                    text=data.get("text"),
                    buttons=data.get("buttons", []),
                    image=data.get("image"),
                    at=created_at,
                )
            )
        return entries

    def _claim(self, event_id: str) -> bool:
        now = time.time()
        with self._lock:
            self._db.execute(
                "DELETE FROM processed_events WHERE received_at < ?", (now - EVENT_TTL_SECONDS,)
            )
            inserted = self._db.execute(
                "INSERT OR IGNORE INTO processed_events VALUES (?, ?)", (event_id, now)
            ).rowcount
        return inserted == 1

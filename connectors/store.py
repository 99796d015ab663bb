"""The gateway's durable state in SQLite: transcripts, Slack event ids, buttons, handoffs,
web chat session generations."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

import anyio.to_thread

from connectors.messages import OutgoingMessage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transcript (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'bot', 'agent', 'system')),
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
-- A web conversation's token generation: tokens of an older one no longer open it. The
-- row appears on the first rotation; ``verified`` is what the rotation was for.
CREATE TABLE IF NOT EXISTS web_sessions (
    conversation_key TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    verified TEXT,
    updated_at REAL NOT NULL
);
"""

# Human handoff (issue 6). A conversation has at most one open handoff (the partial unique
# index); conversation_owner says who answers it. handoff_inbox holds the user messages that
# arrived while a handoff was open, until an agent has seen them; outbox holds messages for
# the user (agent replies, notices) until their channel has taken them.
_HANDOFF_SCHEMA = """
CREATE TABLE IF NOT EXISTS handoffs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'assigned', 'resolved')),
    trigger_rule TEXT NOT NULL,
    trigger_score REAL,
    trigger_detail TEXT NOT NULL,
    summary TEXT NOT NULL,
    slots TEXT NOT NULL,
    agent TEXT,
    created_at REAL NOT NULL,
    assigned_at REAL,
    resolved_at REAL,
    resolved_by TEXT,
    note TEXT NOT NULL DEFAULT '',
    available INTEGER NOT NULL DEFAULT 1,
    acknowledged INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS one_open_handoff_per_conversation
    ON handoffs (conversation_id) WHERE status != 'resolved';
CREATE INDEX IF NOT EXISTS handoffs_by_status ON handoffs (status, priority DESC, created_at);
CREATE TABLE IF NOT EXISTS conversation_owner (
    conversation_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL CHECK (owner IN ('bot', 'human')),
    handoff_id INTEGER REFERENCES handoffs (id),
    csat_handoff_id INTEGER REFERENCES handoffs (id),
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS handoff_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    handoff_id INTEGER NOT NULL REFERENCES handoffs (id),
    transcript_id INTEGER NOT NULL REFERENCES transcript (id),
    seen_at REAL
);
CREATE INDEX IF NOT EXISTS inbox_by_handoff ON handoff_inbox (handoff_id, id);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivered_at, next_attempt_at);
CREATE TABLE IF NOT EXISTS csat (
    handoff_id INTEGER PRIMARY KEY REFERENCES handoffs (id),
    conversation_id TEXT NOT NULL,
    agent TEXT,
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reply_address (
    conversation_id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

# The transcript as the first release created it: only users and the bot could speak.
_TRANSCRIPT_ROLES = "CHECK (role IN ('user', 'bot', 'agent', 'system'))"
_MIGRATE_TRANSCRIPT = """
CREATE TABLE transcript_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'bot', 'agent', 'system')),
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
INSERT INTO transcript_new (id, conversation_id, role, body, created_at)
    SELECT id, conversation_id, role, body, created_at FROM transcript;
DROP TABLE transcript;
ALTER TABLE transcript_new RENAME TO transcript;
CREATE INDEX IF NOT EXISTS transcript_by_conversation ON transcript (conversation_id, id);
"""

EVENT_TTL_SECONDS = 24 * 3600
HISTORY_LIMIT = 200
BUSY_TIMEOUT_SECONDS = 10.0


class HistoryButton(TypedDict):
    title: str
    payload: str


Role = Literal["user", "bot", "agent", "system"]


class HistoryEntry(TypedDict):
    role: Role
    text: str | None
    buttons: list[HistoryButton]
    image: str | None
    at: float
    # The username of the agent who wrote an ``agent`` entry.
    agent: NotRequired[str]


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
        self._db = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS
        )
        # Re-entrant: a transaction() body calls _execute and _query on the same thread.
        self._lock = threading.RLock()
        with self._lock:
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            self._migrate_transcript()
            self._db.executescript(_HANDOFF_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the body in one SQLite transaction (BEGIN IMMEDIATE).

        Blocking: call it from a worker thread (``await store._run(work)``). The body may use
        ``_execute``/``_query`` or the yielded connection; an exception rolls everything back.

        Example:
            >>> def move(store: GatewayStore) -> None:
            ...     with store.transaction() as db:
            ...         db.execute("UPDATE handoffs SET status = 'assigned' WHERE id = 1")
            ...         db.execute("UPDATE conversation_owner SET owner = 'human'")
        """
        with self._lock:
            if self._db.in_transaction:
                # A nested call joins the outer transaction instead of failing on BEGIN.
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    async def append_user(self, conversation_id: str, text: str) -> int:
        """Record what the user said (or the title of the button they clicked); return its id."""
        body = {"text": text}
        transcript_id: int = await self._run(self._insert, conversation_id, "user", body)
        return transcript_id

    async def append_entry(
        self,
        conversation_id: str,
        role: Role,
        message: OutgoingMessage,
        *,
        agent: str | None = None,
    ) -> int:
        """Record one message of any role (an agent's reply, a system notice); return its id."""
        if role not in ("user", "bot", "agent", "system"):
            raise ValueError(f"role must be user, bot, agent or system, got {role!r}")
        body = _body(message)
        if agent is not None:
            body["agent"] = agent
        transcript_id: int = await self._run(self._insert, conversation_id, role, body)
        return transcript_id

    async def append_bot(self, conversation_id: str, replies: list[OutgoingMessage]) -> None:
        """Record the bot's replies to one turn, in order."""
        for reply in replies:
            await self._run(self._insert, conversation_id, "bot", _body(reply))

    async def history(self, conversation_id: str, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
        """The last ``limit`` transcript entries of a conversation, oldest first."""
        return await self._run(self._history, conversation_id, limit)

    async def button_title(self, conversation_id: str, payload: str) -> str | None:
        """The title of the button with ``payload`` in the last messages to the user, if any."""
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

    async def session_generation(self, conversation_key: str) -> int:
        """The current token generation of a web conversation (0 until its first rotation)."""
        rows = await self._run(
            self._query,
            "SELECT generation FROM web_sessions WHERE conversation_key = ?",
            (conversation_key,),
        )
        return int(rows[0][0]) if rows else 0

    async def rotate_on_verification(
        self, conversation_key: str, verified: str | None
    ) -> int | None:
        """Record what a web conversation is verified as; a new value starts a new generation.

        Args:
            conversation_key: the web conversation's key.
            verified: a fingerprint of the conversation's verification, None when it has none.

        Returns:
            The new generation when ``verified`` is set and differs from the one recorded
            (the caller issues a token of that generation), else None.
        """
        return await self._run(self._rotate, conversation_key, verified)

    async def remember_address(
        self, conversation_id: str, channel: str, address: dict[str, Any]
    ) -> None:
        """Where a channel last heard from the user (a Slack channel and thread), so messages
        the user did not ask for at that moment (an agent's reply) can find them."""
        await self._run(
            self._execute,
            "INSERT INTO reply_address VALUES (?, ?, ?, ?) ON CONFLICT (conversation_id) "
            "DO UPDATE SET channel = excluded.channel, address = excluded.address, "
            "updated_at = excluded.updated_at",
            (conversation_id, channel, json.dumps(address), time.time()),
        )

    async def address(self, conversation_id: str) -> dict[str, Any] | None:
        """The address ``remember_address`` stored for the conversation, if any."""
        rows = await self._run(
            self._query,
            "SELECT address FROM reply_address WHERE conversation_id = ?",
            (conversation_id,),
        )
        if not rows:
            return None
        value = json.loads(rows[0][0])
        return value if isinstance(value, dict) else None

    # Blocking parts, run in a worker thread.

    async def _run(self, function: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args)

    def _execute(self, sql: str, params: tuple[Any, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _insert(self, conversation_id: str, role: str, body: dict[str, Any]) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO transcript (conversation_id, role, body, created_at) "
                "VALUES (?, ?, ?, ?)",
                (conversation_id, role, json.dumps(body), time.time()),
            )
            return int(cursor.lastrowid or 0)

    def _migrate_transcript(self) -> None:
        """Widen the role CHECK of a database made before agents and notices existed."""
        row = self._db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'transcript'"
        ).fetchone()
        if row is None or _TRANSCRIPT_ROLES in " ".join(str(row[0]).split()):
            return
        self._db.executescript("BEGIN IMMEDIATE;" + _MIGRATE_TRANSCRIPT + "COMMIT;")

    def _history(self, conversation_id: str, limit: int) -> list[HistoryEntry]:
        rows = self._query(
            "SELECT role, body, created_at FROM transcript WHERE conversation_id = ? "
            "ORDER BY id DESC LIMIT ?",
            (conversation_id, limit),
        )
        return [entry_of(role, body, created_at) for role, body, created_at in reversed(rows)]

    def _rotate(self, conversation_key: str, verified: str | None) -> int | None:
        with self.transaction() as db:
            row = db.execute(
                "SELECT generation, verified FROM web_sessions WHERE conversation_key = ?",
                (conversation_key,),
            ).fetchone()
            generation, recorded = (int(row[0]), row[1]) if row else (0, None)
            if recorded == verified:
                return None
            if verified is not None:
                generation += 1
            db.execute(
                "INSERT INTO web_sessions VALUES (?, ?, ?, ?) ON CONFLICT (conversation_key) "
                "DO UPDATE SET generation = excluded.generation, verified = excluded.verified, "
                "updated_at = excluded.updated_at",
                (conversation_key, generation, verified, time.time()),
            )
        return generation if verified is not None else None

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


def entry_of(role: Role, body: str, created_at: float) -> HistoryEntry:
    """A transcript row as a HistoryEntry."""
    data = json.loads(body)
    entry = HistoryEntry(
        role=role,
        text=data.get("text"),
        buttons=data.get("buttons", []),
        image=data.get("image"),
        at=created_at,
    )
    if isinstance(data.get("agent"), str):
        entry["agent"] = data["agent"]
    return entry


def _body(message: OutgoingMessage) -> dict[str, Any]:
    return {
        "text": message.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
        "image": message.image,
    }

"""The gateway's durable state: transcripts, platform event ids, buttons, reply addresses, web
chat session generations; the database (SQLite or PostgreSQL, connectors/database.py) that the
other aggregates' repositories (handoffs, outbox, agents, canned replies) use too."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

import anyio.to_thread

from connectors.charts import HistoryChart, chart_of, transcript_text
from connectors.database import Database, Transaction, open_database
from connectors.messages import OutgoingMessage

if TYPE_CHECKING:
    from connectors.settings import GatewaySettings

EVENT_TTL_SECONDS = 24 * 3600
HISTORY_LIMIT = 200


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
    # A chart the reply carried (its text has the line "[chart] <title>"); not the image.
    chart: NotRequired[HistoryChart]


class GatewayStore:
    """State that must survive a gateway restart, in SQLite or PostgreSQL.

    Calls are small and run in a worker thread so they never block the event loop.

    Args:
        location: a SQLite file (or ``:memory:``), or a ``postgresql://`` URL shared by
            every gateway replica.
        password: the PostgreSQL password, apart from the URL.

    Example:
        >>> store = GatewayStore(":memory:")
        >>> anyio.run(store.claim_event, "Ev01"), anyio.run(store.claim_event, "Ev01")
        (True, False)
    """

    def __init__(self, location: str | Path, *, password: str = "") -> None:
        self.database: Database = open_database(location, password=password)

    @classmethod
    def of(cls, settings: GatewaySettings) -> GatewayStore:
        """The store the settings name: GATEWAY_DATABASE_URL when set, else GATEWAY_DB."""
        return cls(
            settings.database_url or settings.gateway_db, password=settings.database_password
        )

    def close(self) -> None:
        self.database.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Run the body in one transaction, serialised with every other one (all replicas).

        Blocking: call it from a worker thread (``await store._run(work)``). The body may use
        ``_execute``/``_query`` or the yielded connection; an exception rolls everything back.

        Example:
            >>> def move(store: GatewayStore) -> None:
            ...     with store.transaction() as db:
            ...         db.execute("UPDATE handoffs SET status = 'assigned' WHERE id = 1")
            ...         db.execute("UPDATE conversation_owner SET owner = 'human'")
        """
        with self.database.transaction() as db:
            yield db

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
        body = entry_body(message)
        if agent is not None:
            body["agent"] = agent
        transcript_id: int = await self._run(self._insert, conversation_id, role, body)
        return transcript_id

    async def append_bot(self, conversation_id: str, replies: list[OutgoingMessage]) -> None:
        """Record the bot's replies to one turn, in order."""
        for reply in replies:
            await self._run(self._insert, conversation_id, "bot", entry_body(reply))

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
        await self._run(
            self._execute,
            "INSERT INTO button_payloads VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (key, payload, time.time()),
        )
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
        return self.database.execute(sql, params)

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self.database.query(sql, params)

    def _insert(self, conversation_id: str, role: str, body: dict[str, Any]) -> int:
        rows = self._query(
            "INSERT INTO transcript (conversation_id, role, body, created_at) "
            "VALUES (?, ?, ?, ?) RETURNING id",
            (conversation_id, role, json.dumps(body), time.time()),
        )
        return int(rows[0][0])

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
        with self.transaction() as db:
            db.execute(
                "DELETE FROM processed_events WHERE received_at < ?", (now - EVENT_TTL_SECONDS,)
            )
            inserted = db.execute(
                "INSERT INTO processed_events VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING",
                (event_id, now),
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
    if isinstance(data.get("chart"), dict):
        entry["chart"] = data["chart"]
    return entry


def entry_body(message: OutgoingMessage) -> dict[str, Any]:
    """How a message is stored in the transcript (its text, buttons and image; a chart as
    the line "[chart] <title>" and what it was, not its picture)."""
    # The channel delivering the reply logs a malformed chart; not logged twice here.
    chart = chart_of(message, log=False)
    body: dict[str, Any] = {
        "text": transcript_text(message, chart),
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
        "image": message.image,
    }
    if chart is not None:
        body["chart"] = chart.history()
    return body

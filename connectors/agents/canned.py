"""Canned replies for agents: the company's defaults from a YAML file plus agents' own.

The defaults (data/handoff/canned_replies.yml) are loaded at startup and replace the previous
defaults, so editing the file and restarting updates them; replies agents add in the console
are kept, and only the agent who added one can delete it. ``{agent}`` in a reply's text
stands for the agent's display name.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from connectors.agents.errors import Forbidden, InvalidAgentInput, NotFound
from connectors.store import GatewayStore

MAX_TITLE_CHARS = 60
MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class CannedReply:
    """One canned reply; ``source`` is ``file`` (company default) or ``agent``."""

    id: int
    title: str
    text: str
    source: str
    created_by: str | None


def load_defaults(path: str | Path) -> list[tuple[str, str]]:
    """(title, text) pairs from a canned-replies YAML file (``replies: [{title, text}]``).

    Raises:
        InvalidAgentInput: the file is not valid YAML of that shape; the message says where.
    """
    try:
        data: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InvalidAgentInput(f"{path} is not valid YAML: {error}") from None
    replies = data.get("replies") if isinstance(data, dict) else None
    if not isinstance(replies, list):
        raise InvalidAgentInput(f"{path} must have a top-level 'replies' list")
    pairs = []
    for index, item in enumerate(replies):
        if not isinstance(item, dict):
            raise InvalidAgentInput(f"{path}: replies[{index}] must be a mapping")
        try:
            pairs.append(check_reply(str(item.get("title", "")), str(item.get("text", ""))))
        except InvalidAgentInput as error:
            raise InvalidAgentInput(f"{path}: replies[{index}]: {error.reason}") from None
    return pairs


def check_reply(title: str, text: str) -> tuple[str, str]:
    """A canned reply's title and text, trimmed; both must be present and not too long.

    Raises:
        InvalidAgentInput: a part is empty or too long.
    """
    title = " ".join(_printable(title).split())
    text = _printable(text).strip()
    if not title:
        raise InvalidAgentInput("title must not be empty")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidAgentInput(f"title must be at most {MAX_TITLE_CHARS} characters, got "
                                f"{len(title)}")  # fmt: skip
    if not text:
        raise InvalidAgentInput("text must not be empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidAgentInput(f"text must be at most {MAX_TEXT_CHARS} characters, got "
                                f"{len(text)}")  # fmt: skip
    return title, text


def _printable(value: str) -> str:
    return "".join(ch for ch in value if ch in "\n\t" or unicodedata.category(ch) != "Cc")


class CannedReplies:
    """The ``canned_replies`` table in the gateway database.

    Example:
        >>> canned = CannedReplies(GatewayStore(":memory:"))
        >>> canned.replace_defaults([("Greeting", "Hi, I'm {agent}.")])
        >>> [r.title for r in await canned.all()]
        ['Greeting']
    """

    def __init__(self, store: GatewayStore) -> None:
        self.store = store

    def replace_defaults(self, pairs: list[tuple[str, str]]) -> None:
        """Make ``pairs`` the company defaults, in order, keeping agents' own replies."""
        now = time.time()
        with self.store.transaction() as db:
            db.execute("DELETE FROM canned_replies WHERE source = 'file'")
            db.executemany(
                "INSERT INTO canned_replies (title, body, source, created_at) "
                "VALUES (?, ?, 'file', ?)",
                [(title, text, now) for title, text in pairs],
            )

    async def all(self) -> list[CannedReply]:
        """Every canned reply: the defaults in file order, then agents' own, oldest first."""
        rows = await self.store._run(
            self.store._query,
            "SELECT id, title, body, source, created_by FROM canned_replies "
            "ORDER BY source = 'agent', id",
            (),
        )
        return [CannedReply(*row) for row in rows]

    async def add(self, title: str, text: str, *, agent: str) -> CannedReply:
        """Add an agent's own canned reply.

        Raises:
            InvalidAgentInput: the title or text is empty or too long.
        """
        title, text = check_reply(title, text)
        rows = await self.store._run(
            self.store._query,
            "INSERT INTO canned_replies (title, body, source, created_by, created_at) "
            "VALUES (?, ?, 'agent', ?, ?) RETURNING id",
            (title, text, agent, time.time()),
        )
        return CannedReply(int(rows[0][0]), title, text, "agent", agent)

    async def remove(self, reply_id: int, *, agent: str) -> None:
        """Delete one of ``agent``'s own replies (owner check and delete in one statement).

        Raises:
            NotFound: no canned reply has this id.
            Forbidden: it is a company default (they live in the file) or another agent's.
        """
        removed: int = await self.store._run(
            self.store._execute,
            "DELETE FROM canned_replies WHERE id = ? AND source = 'agent' AND created_by = ?",
            (reply_id, agent),
        )
        if removed == 1:
            return
        rows = await self.store._run(
            self.store._query, "SELECT source FROM canned_replies WHERE id = ?", (reply_id,)
        )
        if not rows:
            raise NotFound(f"no canned reply with id {reply_id}")
        if rows[0][0] == "file":
            raise Forbidden("company canned replies cannot be deleted here; they live in the file")
        raise Forbidden("only the agent who added a canned reply can delete it")

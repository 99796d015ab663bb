"""Company facts in documents: ``{{ returns.window_days }}`` in a Markdown document is filled
in from the facts file (``COMPANY_FACTS_FILE``, default data/company.yml), the same file the
assistant acts on, so a document and the bot can never state two different return windows.
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from retrieval.settings import COMPANY_FACTS_FILE

FACTS_ENV = COMPANY_FACTS_FILE.name
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\s*\}\}")


class UnknownFact(ValueError):
    """A document names a fact the facts file does not have."""


def facts_path() -> Path:
    """The facts file: ``COMPANY_FACTS_FILE`` (a relative path from the project root)."""
    return COMPANY_FACTS_FILE.read(os.environ)


@lru_cache(maxsize=4)
def _read(path: str, modified: float) -> tuple[dict[str, Any], str]:
    raw = Path(path).read_bytes() if modified >= 0 else b""
    loaded = yaml.safe_load(raw) if raw else {}
    return (loaded if isinstance(loaded, dict) else {}), hashlib.sha256(raw).hexdigest()


def company_facts() -> tuple[dict[str, Any], str]:
    """The facts and a digest of their file (part of every document's fingerprint)."""
    path = facts_path()
    try:
        modified = path.stat().st_mtime
    except OSError:
        modified = -1.0
    return _read(str(path), modified)


def fill_facts(text: str, facts: dict[str, Any]) -> str:
    """``text`` with every ``{{ a.b }}`` replaced by that fact.

    Raises:
        UnknownFact: a placeholder names no fact (or a group of facts rather than one).
    """

    def value(match: re.Match[str]) -> str:
        found: Any = facts
        for part in match.group(1).split("."):
            if not isinstance(found, dict) or part not in found:
                raise UnknownFact(f"no fact {match.group(1)!r} in {facts_path()}")
            found = found[part]
        if isinstance(found, dict | list):
            raise UnknownFact(f"{match.group(1)!r} is a group of facts, not one")
        return str(found)

    return _PLACEHOLDER.sub(value, text)

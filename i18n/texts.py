"""The assistant's own sentences in every language it speaks, and the language of this turn.

Sentences live in ``messages/*.yml`` (a file per area), one entry per message with a version
per language side by side (``{field}`` placeholders, the same in every version: a test
checks; a key defined twice is an error). Code says
``say("error.unavailable")`` and gets the sentence in the language of the conversation
being answered, which the caller sets once per request with ``speaking(language)`` (the
action server does it for every action from the ``language`` slot).

Example:
    >>> with speaking("zh"):
    ...     say("record.no_such", label="订单", number="SO-100123")
    'ERP 中没有订单 SO-100123。'
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import yaml

from i18n.languages import DEFAULT_LANGUAGE, LANGUAGES, Language

MESSAGES_DIR = Path(__file__).with_name("messages")

_language: contextvars.ContextVar[Language] = contextvars.ContextVar(
    "language", default=DEFAULT_LANGUAGE
)


class MissingMessage(KeyError):
    """A message key that ``messages.yml`` does not define."""


@functools.cache
def messages() -> Mapping[str, Mapping[Language, str]]:
    """Every message: key -> language -> template (read once)."""
    table: dict[str, dict[Language, str]] = {}
    for path in sorted(MESSAGES_DIR.glob("*.yml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, versions in raw.items():
            if not isinstance(versions, dict) or DEFAULT_LANGUAGE not in versions:
                raise ValueError(f"message {key!r} in {path.name} has no English version")
            if str(key) in table:
                raise ValueError(f"message {key!r} in {path.name} is defined twice")
            table[str(key)] = {lang: str(versions[lang]) for lang in LANGUAGES if lang in versions}
    return table


def current_language() -> Language:
    """The language of the conversation being answered in this context."""
    return _language.get()


@contextmanager
def speaking(language: Language) -> Iterator[None]:
    """Answer in ``language`` within the block (per request: a context variable)."""
    token = _language.set(language)
    try:
        yield
    finally:
        _language.reset(token)


def say(key: str, language: Language | None = None, /, **fields: object) -> str:
    """Message ``key`` in ``language`` (default: this turn's), its placeholders filled.

    A language without its own version of the message falls back to English.
    """
    try:
        versions = messages()[key]
    except KeyError:
        raise MissingMessage(key) from None
    lang = language or current_language()
    return versions.get(lang, versions[DEFAULT_LANGUAGE]).format(**fields)

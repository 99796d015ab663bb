"""Variables, their parsers and the registry of every process's variables (see the package)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# The checkout: relative paths in variables are read from here, whatever the working directory.
ROOT = Path(__file__).resolve().parent.parent
FLAG_KIND = "0 or 1"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# What `Variable.current` read from this process's environment, by variable; the entry holds
# the variable too, so its id cannot be reused while the value is kept.
_current: dict[int, tuple[Variable[Any], Any]] = {}
_current_lock = threading.Lock()


class _BlankIsDefault:
    """A variable set but blank reads as its default (`Variable.blank` unless given)."""

    def __repr__(self) -> str:
        return "BLANK_IS_DEFAULT"


BLANK_IS_DEFAULT: Any = _BlankIsDefault()


class SettingsError(ValueError):
    """A variable is set to a value that cannot be used; the message names it and the value."""


@dataclass(frozen=True)
class Parser(Generic[T]):
    """Turns a variable's text into its value. ``kind`` says what is accepted (in the docs'
    table); ``parse`` raises ValueError with what is wrong ("must be ..., got ...")."""

    kind: str
    parse: Callable[[str], T]


@dataclass(frozen=True)
class Variable(Generic[T]):
    """One environment variable: its name, typed default, meaning and parser.

    Unset or blank means the default, unless ``blank`` is given: then a blank value means
    ``blank`` (e.g. None: "no adapter").
    """

    name: str
    default: T
    doc: str
    parser: Parser[T]
    shown_default: str | None = None
    secret: bool = False
    blank: Any = BLANK_IS_DEFAULT

    def read(self, env: Mapping[str, str]) -> T:
        """This variable's value in ``env``.

        Raises:
            SettingsError: it is set to something its parser refuses.
        """
        raw = env.get(self.name)
        if raw is None:
            return self.default
        raw = raw.strip()
        if not raw:
            return self.default if self.blank is BLANK_IS_DEFAULT else self.blank
        try:
            return self.parser.parse(raw)
        except ValueError as error:
            raise SettingsError(f"{self.name} {error}") from None

    def current(self) -> T:
        """This variable's value in the process's environment, read at its first use and kept:
        a process reads a setting once, not at every request (`forget_current` reads again).

        Raises:
            SettingsError: it is set to something its parser refuses.
        """
        kept = _current.get(id(self))
        if kept is None:
            value = self.read(os.environ)
            with _current_lock:  # the first of several concurrent readers wins
                kept = _current.setdefault(id(self), (self, value))
        return kept[1]

    def present(self, env: Mapping[str, str]) -> bool:
        """Whether ``env`` sets this variable to something not blank."""
        return bool(env.get(self.name, "").strip())

    @property
    def default_text(self) -> str:
        """The default as the docs show it."""
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None or self.default == "":
            return "(unset)"
        if isinstance(self.default, bool):
            if self.parser.kind == FLAG_KIND:
                return "1" if self.default else "0"
            return "true" if self.default else "false"
        if isinstance(self.default, Path):
            try:
                return str(self.default.relative_to(ROOT))
            except ValueError:
                return str(self.default)
        if isinstance(self.default, (tuple, list, frozenset, set)):
            return ",".join(sorted(map(str, self.default))) or "(unset)"
        return str(self.default)


class Variables:
    """The variables one process (or tool) reads, in the order they are declared."""

    def __init__(self, process: str, title: str, *, register: bool = True) -> None:
        """``register``: list them in `registries()` (docs/configuration.md); tests' own
        variables are not."""
        self.process = process
        self.title = title
        self.variables: dict[str, Variable[Any]] = {}
        if register:
            _REGISTRIES[process] = self

    def add(
        self,
        name: str,
        default: T,
        doc: str,
        parser: Parser[T] | None = None,
        *,
        shown_default: str | None = None,
        secret: bool = False,
        blank: Any = BLANK_IS_DEFAULT,
    ) -> Variable[T]:
        """Declare ``name``; the returned Variable reads it (``.read(env)``)."""
        if name in self.variables:
            raise ValueError(f"{name} is declared twice in {self.process}")
        chosen: Parser[Any] = parser if parser is not None else text()
        variable: Variable[T] = Variable(name, default, doc, chosen, shown_default, secret, blank)
        self.variables[name] = variable
        return variable

    def __iter__(self) -> Iterator[Variable[Any]]:
        return iter(self.variables.values())


_REGISTRIES: dict[str, Variables] = {}


def forget_current() -> None:
    """Forget what `Variable.current` read: the next use reads the environment again (tests
    that change it, and the hooks that switch a database or mapping)."""
    with _current_lock:
        _current.clear()


def registries() -> list[Variables]:
    """Every process's variables declared so far (import the settings modules first)."""
    return list(_REGISTRIES.values())


# -- parsers ---------------------------------------------------------------------------------


def text() -> Parser[str]:
    """Any text (trimmed)."""
    return Parser("text", lambda raw: raw)


def integer(low: int | None = None, high: int | None = None) -> Parser[int]:
    """A whole number within ``low``..``high`` (each optional)."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"must be an integer, got {raw!r}") from None
        _within(value, low, high, raw)
        return value

    return Parser(_bounds("integer", low, high), parse)


def number(
    low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> Parser[float]:
    """A decimal number within ``low``..``high``; ``low_open`` excludes ``low`` itself."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"must be a finite number, got {raw!r}")
        if low_open and low is not None and value <= low:
            raise ValueError(f"must be greater than {low:g}, got {raw}")
        _within(value, low, high, raw)
        return value

    if low_open and low is not None:
        kind = f"number > {low:g}" + ("" if high is None else f", at most {high:g}")
    else:
        kind = _bounds("number", low, high)
    return Parser(kind, parse)


def boolean() -> Parser[bool]:
    """true/false (also 1/0, yes/no, on/off)."""

    def parse(raw: str) -> bool:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"must be true or false, got {raw!r}")

    return Parser("true or false", parse)


def flag() -> Parser[bool]:
    """1 or 0 (a switch)."""

    def parse(raw: str) -> bool:
        if raw not in ("0", "1"):
            raise ValueError(f"must be 0 or 1, got {raw!r}")
        return raw == "1"

    return Parser(FLAG_KIND, parse)


def choice(*options: str, any_case: bool = False) -> Parser[str]:
    """One of ``options``, returned as declared; ``any_case``: in any case (``JSON`` too)."""
    declared = {(option.lower() if any_case else option): option for option in options}

    def parse(raw: str) -> str:
        chosen = declared.get(raw.lower() if any_case else raw)
        if chosen is None:
            raise ValueError(f"must be {_one_of(options)}, got {raw!r}")
        return chosen

    return Parser(f"one of {', '.join(options)}" + (" (any case)" if any_case else ""), parse)


def secret(min_chars: int) -> Parser[str]:
    """A secret of at least ``min_chars`` characters; an error says its length, never it."""

    def parse(raw: str) -> str:
        if len(raw) < min_chars:
            raise ValueError(f"must be at least {min_chars} characters, got {len(raw)}")
        return raw

    return Parser(f"text of {min_chars}+ characters", parse)


def log_level() -> Parser[str]:
    """A logging level's name in any case, returned upper-case (``debug`` is DEBUG)."""
    return choice(*LOG_LEVELS, any_case=True)


def log_format() -> Parser[str]:
    """text (human lines) or json (a JSON object a line), in any case."""
    return choice(*LOG_FORMATS, any_case=True)


def url(*schemes: str) -> Parser[str]:
    """A URL starting with one of ``schemes`` (e.g. "http://", "https://")."""

    def parse(raw: str) -> str:
        if not raw.startswith(schemes):
            raise ValueError(f"must start with {_one_of(schemes)}, got {raw!r}")
        return raw

    return Parser(f"URL ({', '.join(s.rstrip(':/') for s in schemes)})", parse)


def path() -> Parser[Path]:
    """A file or folder; a relative one is read from the project root, not the working
    directory (the processes start from anywhere)."""

    def parse(raw: str) -> Path:
        candidate = Path(raw).expanduser()
        return candidate if candidate.is_absolute() else ROOT / candidate

    return Parser("path (relative: from the project root)", parse)


def _within(value: float, low: float | None, high: float | None, raw: str) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"must be {_range(low, high)}, got {raw}")


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    if low is not None:
        return f"at least {low:g}"
    return f"at most {high:g}"


def _bounds(kind: str, low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return kind
    return f"{kind} {'' if low is None else f'{low:g}'}..{'' if high is None else f'{high:g}'}"


def _one_of(options: Iterable[str]) -> str:
    listed = list(options)
    return listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} or {listed[-1]}"

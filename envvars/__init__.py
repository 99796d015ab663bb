"""Typed environment variables: each process's settings module declares the variables it reads
here, and reads them once at start.

One error type (`SettingsError`, a ValueError whose message names the variable and the bad
value), one set of parsers, paths anchored to the project root, and a registry from which
docs/configuration.md is generated (`python -m envvars`, checked by
tests/test_configuration.py). Dependency-free: the Rasa env (Python 3.10) and the installer
import it too.

Example:
    >>> from envvars import Variables, integer
    >>> EXAMPLE = Variables("example", "an example process", register=False)
    >>> PORT = EXAMPLE.add("PORT", 8080, "TCP port it listens on", integer(1, 65535))
    >>> PORT.read({"PORT": "9000"})
    9000
"""

from __future__ import annotations

from envvars.core import (
    ROOT,
    Parser,
    SettingsError,
    Variable,
    Variables,
    boolean,
    choice,
    flag,
    forget_current,
    integer,
    log_format,
    log_level,
    number,
    path,
    registries,
    secret,
    text,
    url,
)

__all__ = [
    "ROOT",
    "Parser",
    "SettingsError",
    "Variable",
    "Variables",
    "boolean",
    "choice",
    "flag",
    "forget_current",
    "integer",
    "log_format",
    "log_level",
    "number",
    "path",
    "registries",
    "secret",
    "text",
    "url",
]

"""Reading a mapping file: YAML whose every mapping and value remembers its line.

A mapping error must name the line of the YAML that is wrong, so the file is read with a
loader that keeps, for each mapping, the line of each of its keys; the spec then raises
:class:`MappingError` with ``path:line``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class MappingError(ValueError):
    """A mapping file that cannot be used; the message starts with ``file:line:``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.reason = message


class Located(dict[str, Any]):
    """A YAML mapping that knows its file, its own line and the line of each key."""

    file: str = "<mapping>"
    line: int = 0
    key_lines: dict[str, int]

    def where(self, key: str | None = None) -> str:
        """``file:line`` of ``key`` (or of the mapping itself)."""
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        return f"{self.file}:{line}"

    def error(self, key: str | None, message: str) -> MappingError:
        return MappingError(self.where(key), message)


class _Loader(yaml.SafeLoader):
    file = "<mapping>"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    located = Located()
    located.file = loader.file
    located.line = node.start_mark.line + 1
    located.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise MappingError(
                f"{loader.file}:{key_node.start_mark.line + 1}", f"key {key!r} is not text"
            )
        if key in located:
            raise MappingError(
                f"{loader.file}:{key_node.start_mark.line + 1}", f"{key!r} is given twice"
            )
        located[key] = loader.construct_object(value_node, deep=True)
        located.key_lines[key] = key_node.start_mark.line + 1
    return located


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_located(text: str, file: str = "<mapping>") -> Located:
    """Parse ``text`` (a YAML mapping at the top).

    Raises:
        MappingError: not YAML, or not a mapping at the top.
    """
    loader_class = type("_FileLoader", (_Loader,), {"file": file})
    try:
        document = yaml.load(text, Loader=loader_class)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise MappingError(f"{file}:{line}", f"not valid YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise MappingError(f"{file}:0", f"not valid YAML: {error}") from None
    if not isinstance(document, Located):
        raise MappingError(f"{file}:1", "a mapping file is a YAML mapping (`key: value` lines)")
    return document


def read_located(path: Path) -> Located:
    """Read and parse the mapping file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise MappingError(f"{path}:0", f"cannot read the file: {error.strerror}") from None
    return load_located(text, str(path))

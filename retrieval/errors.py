"""The retrieval package's exceptions: one base class, each carrying what went wrong."""

from __future__ import annotations


class RetrievalError(Exception):
    """Base class of every error raised by retrieval/."""


class UnreadableDocument(RetrievalError):
    """A document could not be loaded (unsupported format or a broken file)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.path = path
        self.reason = reason


class IndexNotBuilt(RetrievalError):
    """No index exists where one was expected: run `make index`."""

    def __init__(self, index_dir: str) -> None:
        super().__init__(f"no document index in {index_dir}: run `make index`")
        self.index_dir = index_dir


class InvalidQuery(RetrievalError):
    """A search was asked with an empty query or a bad parameter."""

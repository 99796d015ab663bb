"""An embedder that keeps every text's vector on disk, so a restart embeds nothing twice.

The action server compares catalogue products with each other (out-of-stock alternatives):
the same few thousand texts at every start. Kept in one ``.npz`` per model (text digests and
vectors), a start loads them in milliseconds instead of loading the model and embedding the
catalogue for tens of seconds; only texts never seen (a new or renamed product) are embedded,
then added to the file. Several processes may share the file: each writes a whole new file
and renames it into place, so a reader never sees half of one.

Example:
    >>> encoder = DiskCachedEmbedder(SentenceTransformerEmbedder("all-MiniLM-L6-v2"),
    ...                              Path("var/vectors/all-MiniLM-L6-v2.npz"))
    >>> encoder.embed(["Blue Widget", "Steel Widget"]).shape  # the model only the first time
    (2, 384)
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.settings import PRODUCT_VECTORS_DIR

logger = logging.getLogger(__name__)


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class DiskCachedEmbedder:
    """``inner``'s vectors, remembered per text in ``path`` (created on first save)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.path = path
        self._vectors: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()
        self.embedded = 0  # texts the inner embedder was asked for, in this process

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in order; texts not seen before go to ``inner`` (once each)."""
        keys = [_key(text) for text in texts]
        with self._lock:
            known = self._loaded()
            missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in known}
            if missing:
                rows = np.asarray(self.inner.embed(list(missing.values())), dtype=np.float32)
                if rows.ndim != 2 or rows.shape[0] != len(missing):
                    raise ValueError(
                        f"the embedder must return one vector per text ({len(missing)}), "
                        f"got shape {rows.shape}"
                    )
                known.update(zip(missing, rows, strict=True))
                self.embedded += len(missing)
                self._save(known)
            if not keys:
                return np.zeros((0, 0), dtype=np.float32)
            return np.stack([known[key] for key in keys])

    def _loaded(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = _read(self.path)
        return self._vectors

    def _save(self, vectors: dict[str, np.ndarray]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=self.path.parent, prefix=self.path.name, suffix=".tmp", delete=False
            ) as handle:
                np.savez(
                    handle,
                    keys=np.array(list(vectors), dtype="U64"),
                    vectors=np.stack(list(vectors.values())),
                )
            os.replace(handle.name, self.path)
        except OSError as error:  # a read-only disk costs the next start time, nothing more
            logger.warning("could not keep the vectors in %s: %s", self.path, error)


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read(path: Path) -> dict[str, np.ndarray]:
    """The vectors kept in ``path``; none when it is missing or unreadable (logged)."""
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
            pairs = zip(keys, vectors, strict=True)  # ValueError: a damaged file
            return {str(key): np.asarray(row, dtype=np.float32) for key, row in pairs}
    except (OSError, ValueError, KeyError, EOFError) as error:
        logger.warning("ignoring the vectors kept in %s: %r", path, error)
        return {}


# The model products are compared with (its vectors are kept in PRODUCT_VECTORS_DIR).
PRODUCT_MODEL = "all-MiniLM-L6-v2"


def product_embedder(environ: Mapping[str, str] | None = None) -> DiskCachedEmbedder:
    """The embedder of product texts (all-MiniLM-L6-v2 from its PyPI package, loaded only
    when a text is new), its vectors kept in PRODUCT_VECTORS_DIR (default var/vectors)."""
    from retrieval.embedding import SentenceTransformerEmbedder

    vectors = PRODUCT_VECTORS_DIR
    directory = vectors.read(os.environ) if environ is None else vectors.read(environ)
    return DiskCachedEmbedder(
        SentenceTransformerEmbedder(PRODUCT_MODEL), directory / f"{PRODUCT_MODEL}.npz"
    )

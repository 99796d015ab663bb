"""Embeddings of the catalogue's names, categories and descriptions, and how similar two
products are by them; kept per process and encoder, remade when the catalogue changes.

The encoder is passed in (anything with ``embed(texts) -> vectors``), so erp/ loads no model:
the action server hands in retrieval's sentence encoder, tests a fake.

Example:
    >>> vectors = product_vectors(products, encoder)
    >>> similarities(vectors, 0)[:3]
    array([1.  , 0.91, 0.74], dtype=float32)
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# What each field adds to the similarity of two products. The name says most (the kind,
# size and variant); the category and description say what family it belongs to. A field
# empty for either product is left out and the others' weights count in its place.
FIELD_WEIGHTS: Mapping[str, float] = {"name": 0.6, "category": 0.2, "description": 0.2}


class TextEncoder(Protocol):
    """Turns texts into vectors, one row per text (retrieval's ``Embedder`` is one)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Texts → float array (len(texts) × dimension)."""
        ...


class ProductText(Protocol):
    """The fields of a product the vectors are made from."""

    @property
    def name(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def description(self) -> str: ...


@dataclass(frozen=True)
class ProductVectors:
    """Per field: one unit vector per product (zero where the field is empty), in order."""

    fields: Mapping[str, np.ndarray]

    def present(self, field: str) -> np.ndarray:
        """1.0 for the products that have ``field``, 0.0 for the others."""
        return np.any(self.fields[field] != 0, axis=1).astype(np.float32)


def similarities(vectors: ProductVectors, index: int) -> np.ndarray:
    """How similar every product is to product ``index`` (0-1 for the usual encoders): the
    cosine similarities of each field, weighted by :data:`FIELD_WEIGHTS` over the fields
    both products have."""
    total: np.ndarray | None = None
    weight: np.ndarray | None = None
    for field, matrix in vectors.fields.items():
        mine = matrix[index]
        if not mine.any():
            continue
        present = vectors.present(field) * FIELD_WEIGHTS[field]
        part = (matrix @ mine) * present
        total = part if total is None else total + part
        weight = present if weight is None else weight + present
    if total is None or weight is None:
        return np.zeros(len(next(iter(vectors.fields.values()), ())), dtype=np.float32)
    return np.asarray(total / np.where(weight > 0, weight, 1.0), dtype=np.float32)


@dataclass
class _Embedded:
    fingerprint: str
    vectors: ProductVectors
    by_text: dict[str, np.ndarray]


class EmbeddingCache:
    """The catalogue's vectors per encoder: made on first use, and again (only for the texts
    that changed) when the catalogue's texts change.

    Example:
        >>> cache = EmbeddingCache()
        >>> cache.vectors(encoder, products).fields["name"].shape
        (500, 384)
    """

    def __init__(self) -> None:
        # Weakly per encoder: an encoder let go of (a test's fake) takes its vectors along.
        self._entries: weakref.WeakKeyDictionary[Any, _Embedded] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self.builds = 0

    def vectors(self, encoder: TextEncoder, products: Sequence[ProductText]) -> ProductVectors:
        """The products' vectors, from the cache when their texts have not changed.

        Raises:
            ValueError: the encoder returned something else than one vector per text.
        """
        texts = {f: [_clean(getattr(p, f)) for p in products] for f in FIELD_WEIGHTS}
        fingerprint = catalogue_fingerprint([t for column in texts.values() for t in column])
        # One lock: two first questions at once embed the catalogue once, not twice.
        with self._lock:
            entry = self._entries.get(encoder)
            if entry is not None and entry.fingerprint == fingerprint:
                return entry.vectors
            known = entry.by_text if entry is not None else {}
            wanted = {t for column in texts.values() for t in column if t}
            missing = sorted(wanted - known.keys())
            by_text = {t: known[t] for t in wanted if t in known}
            if missing:
                by_text.update(zip(missing, _unit_rows(encoder, missing), strict=True))
            width = len(next(iter(by_text.values()))) if by_text else 1
            empty = np.zeros(width, dtype=np.float32)
            vectors = ProductVectors(
                {
                    f: np.stack([by_text[t] if t else empty for t in column])
                    if column
                    else np.zeros((0, width), dtype=np.float32)
                    for f, column in texts.items()
                }
            )
            self._entries[encoder] = _Embedded(fingerprint, vectors, by_text)
            self.builds += 1
            return vectors


def _clean(value: str) -> str:
    return " ".join(str(value or "").split())


def _unit_rows(encoder: TextEncoder, texts: list[str]) -> np.ndarray:
    rows = np.asarray(encoder.embed(texts), dtype=np.float32)
    if rows.ndim != 2 or rows.shape[0] != len(texts):
        raise ValueError(
            f"the encoder must return one vector per text ({len(texts)}), got shape {rows.shape}"
        )
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    # Unit length whatever the encoder does, so a dot product is the cosine.
    return rows / np.where(norms > 0, norms, 1.0)


def catalogue_fingerprint(texts: Sequence[str]) -> str:
    """A digest of the texts in order: equal exactly when the catalogue reads the same."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


_cache: EmbeddingCache | None = None
_cache_lock = threading.Lock()


def embedding_cache() -> EmbeddingCache:
    """The process's cache (made on first use; empty until something is embedded)."""
    global _cache
    with _cache_lock:
        if _cache is None:
            _cache = EmbeddingCache()
        return _cache


def product_vectors(products: Sequence[ProductText], encoder: TextEncoder) -> ProductVectors:
    """The products' vectors from the process's cache."""
    return embedding_cache().vectors(encoder, products)

"""Test doubles for the sentence encoder: deterministic vectors, counted calls, failures."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

DIMENSION = 512


class WordEncoder:
    """A bag of words: each word adds 1 to a dimension picked by its hash, so texts sharing
    more words are more similar. ``calls`` records the texts embedded, call by call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.calls.append(list(texts))
        rows = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                row[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIMENSION] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms > 0, norms, 1.0)

    @property
    def embedded(self) -> int:
        """How many texts were embedded over all calls."""
        return sum(len(call) for call in self.calls)


class FailingEncoder:
    """An encoder whose model cannot be loaded."""

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        raise OSError("model files are missing")


class GroupEncoder:
    """Products named in ``groups`` get their group's vector (name and description alike);
    every other text a vector of its own. So the products of a group are similar to each
    other (1.0) and to nothing else (0.2: the shared category alone)."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self._own: dict[str, int] = {}
        self.calls = 0

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.calls += 1
        rows = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in zip(rows, texts, strict=True):
            group = self.groups.get(text.split(". ")[0])
            if group is None:
                group = len(self.groups) + self._own.setdefault(text, len(self._own))
            row[group % DIMENSION] = 1.0
        return rows

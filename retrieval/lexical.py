"""BM25 keyword search over chunk texts (bm25s, English stemming and stop words)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class Bm25Index:
    """BM25 scores of every chunk for a query.

    Example:
        >>> index = Bm25Index(["returns within 30 days", "we ship to Norway"])
        >>> index.scores("ship to norway").argmax()
        1
    """

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s
        import Stemmer

        self._stemmer: Any = Stemmer.Stemmer("english")
        self._size = len(texts)
        self._retriever: Any = None
        if texts:
            tokens = bm25s.tokenize(
                list(texts), stopwords="en", stemmer=self._stemmer, show_progress=False
            )
            self._retriever = bm25s.BM25()
            self._retriever.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return self._size

    def scores(self, query: str) -> np.ndarray:
        """One BM25 score per indexed text (zeros when no query word is known)."""
        import bm25s

        if self._retriever is None:
            return np.zeros(0, dtype=np.float32)
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False
        )[0]
        if not tokens:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

"""BM25 keyword search over chunk texts (bm25s): English stemming and stop words, Chinese cut
into words by jieba."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
# bm25s's own pattern (words of two or more letters or digits), plus single Chinese
# characters: many Chinese words are one character long.
TOKEN_PATTERN = r"(?u)\b\w\w+\b|[\u3400-\u4dbf\u4e00-\u9fff]"
_jieba_lock = threading.Lock()
_jieba: Any = None


def segmented(text: str) -> str:
    """``text`` with its Chinese runs cut into words separated by spaces (English unchanged).

    Example:
        >>> segmented("退货政策是什么 returns")
        '退货 政策 是 什么 returns'
    """
    if not _HAN_RUN.search(text):
        return text
    cut = _segmenter().lcut
    return _HAN_RUN.sub(lambda run: " " + " ".join(cut(run.group())) + " ", text).strip()


def _segmenter() -> Any:
    """jieba, its dictionary loaded on first use (about a second), once per process."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(60)
            jieba.initialize()
            _jieba = jieba
        return _jieba


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
                [segmented(t) for t in texts],
                token_pattern=TOKEN_PATTERN,
                stopwords="en",
                stemmer=self._stemmer,
                show_progress=False,
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
            [segmented(query)],
            token_pattern=TOKEN_PATTERN,
            stopwords="en",
            stemmer=self._stemmer,
            show_progress=False,
            return_ids=False,
        )[0]
        if not tokens:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

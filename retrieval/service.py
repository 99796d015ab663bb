"""Search: the Retriever joins an embedder, a document store and BM25 into ranked Passages."""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping

import numpy as np

from i18n.languages import DEFAULT_LANGUAGE, detect_language
from retrieval.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.errors import InvalidQuery, RetrievalError
from retrieval.lexical import Bm25Index
from retrieval.settings import DEFAULT_HYBRID_ALPHA, RetrievalSettings, SearchMode
from retrieval.store import DocumentStore, store_class
from retrieval.types import Passage

MAX_QUERY_CHARS = 2000
CANDIDATES = 50  # dense and BM25 each propose this many before fusion


class Retriever:
    """Finds the passages of the company documents that best answer a question.

    `mode` is "dense" (cosine similarity of embeddings), "bm25" (keywords) or "hybrid":
    `alpha · cosine + (1 − alpha) · bm25 / best bm25` over the union of both candidate lists;
    `alphas` may set another weight for questions in a language (``{"zh": 0.3}``). A question
    is answered from documents in English and in its own language.

    Example:
        >>> retriever = Retriever(store, SentenceTransformerEmbedder("all-MiniLM-L6-v2"))
        >>> retriever.search("do you ship to Norway?", top_k=3)[0].citation.label
        'Shipping and delivery › Countries we deliver to'
    """

    def __init__(
        self,
        store: DocumentStore,
        embedder: Embedder,
        *,
        mode: SearchMode = "hybrid",
        alpha: float = DEFAULT_HYBRID_ALPHA,
        alphas: Mapping[str, float] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.mode = mode
        self.alpha = alpha
        self.alphas = dict(alphas or {})
        self._bm25: Bm25Index | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model and build the keyword and vector indexes now, not on first search."""
        warm = getattr(self.embedder, "warm_up", None)
        if callable(warm):
            warm()
        self._keyword_index()
        self.store.search(self.embedder.embed_query("warm up"), 1)

    def _keyword_index(self) -> Bm25Index:
        with self._lock:
            if self._bm25 is None or len(self._bm25) != len(self.store.chunks()):
                self._bm25 = Bm25Index([c.embedding_text() for c in self.store.chunks()])
            return self._bm25

    def search(self, query: str, top_k: int = 5) -> list[Passage]:
        """The `top_k` best passages for `query`, best first."""
        query = " ".join(str(query).split())
        if not query:
            raise InvalidQuery("the question is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidQuery(f"the question must be at most {MAX_QUERY_CHARS} characters")
        if top_k <= 0:
            raise InvalidQuery(f"top_k must be greater than 0, got {top_k}")
        chunks = self.store.chunks()
        if not chunks:
            return []
        language = detect_language(query) or DEFAULT_LANGUAGE
        readable = readable_languages(language)
        alpha = self.alphas.get(language, self.alpha)
        vector = self.embedder.embed_query(query)
        pool = max(CANDIDATES, top_k)
        dense = dict(self.store.search(vector, pool)) if self.mode != "bm25" else {}
        lexical: dict[int, float] = {}
        if self.mode != "dense":
            scores = self._keyword_index().scores(query)
            for row in np.argsort(-scores)[:pool]:
                if scores[row] > 0:
                    lexical[int(row)] = float(scores[row])
        rows = sorted(
            r for r in set(dense) | set(lexical) if chunks[r].citation.language in readable
        )
        missing = [r for r in rows if r not in dense]
        similarity = dict(dense)
        if missing:
            exact = self.store.similarities(vector, missing)
            similarity.update(zip(missing, (float(s) for s in exact), strict=True))
        ranked = sorted(
            ((self._fused(similarity[r], lexical, r, alpha), r) for r in rows),
            key=lambda pair: -pair[0],
        )
        return [
            Passage(
                text=chunks[row].text,
                score=score,
                similarity=similarity[row],
                citation=chunks[row].citation,
                chunk_id=chunks[row].id,
                keyword=lexical.get(row, 0.0),
            )
            for score, row in ranked[:top_k]
        ]

    def _fused(self, similarity: float, lexical: dict[int, float], row: int, alpha: float) -> float:
        if self.mode == "dense":
            return similarity
        best = max(lexical.values(), default=0.0)
        keyword = lexical.get(row, 0.0) / best if best > 0 else 0.0
        if self.mode == "bm25":
            return keyword
        return alpha * similarity + (1 - alpha) * keyword


def readable_languages(language: str) -> frozenset[str]:
    """The document languages a question in ``language`` may be answered from: English
    documents for every question, a Chinese version only for a question in Chinese (an
    English question never gets a Chinese passage)."""
    return frozenset({DEFAULT_LANGUAGE, language})


@functools.cache
def default_retriever() -> Retriever:
    """The retriever over the built index (var/index), loaded once per process.

    Raises:
        IndexNotBuilt: when `make index` has not run.
        RetrievalError: when the index was built with another model than the configured one.
    """
    settings = RetrievalSettings.from_env()
    store, manifest = store_class().load(settings.index_dir, kind=settings.index_kind)
    if manifest.get("model") != settings.model:
        raise RetrievalError(
            f"the index in {settings.index_dir} was built with {manifest.get('model')!r}, "
            f"not {settings.model!r}: run `make index`"
        )
    embedder = SentenceTransformerEmbedder(settings.model)
    return Retriever(
        store, embedder, mode=settings.mode, alpha=settings.alpha, alphas={"zh": settings.alpha_zh}
    )


def search(query: str, top_k: int = 5) -> list[Passage]:
    """Search the company documents with the default retriever (see `Retriever.search`)."""
    return default_retriever().search(query, top_k=top_k)

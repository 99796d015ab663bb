"""Company-document retrieval: load, chunk, embed, index (FAISS), and search with citations.

Usage:
    >>> import retrieval
    >>> for passage in retrieval.search("what is your return window?", top_k=3):
    ...     print(passage.score, passage.citation.label, passage.citation.url)

Importing this package is cheap: the embedding model and the index load on first use.
"""

from __future__ import annotations

from retrieval.errors import IndexNotBuilt, InvalidQuery, RetrievalError, UnreadableDocument
from retrieval.service import Retriever, default_retriever, search
from retrieval.types import Chunk, Citation, Passage

__all__ = [
    "Chunk",
    "Citation",
    "IndexNotBuilt",
    "InvalidQuery",
    "Passage",
    "RetrievalError",
    "Retriever",
    "UnreadableDocument",
    "default_retriever",
    "search",
]

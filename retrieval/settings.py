"""Where documents and the index live, which model embeds, and how search scores: the
retrieval variables, declared once (docs/configuration.md is generated from them)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

from envvars import ROOT, Parser, Variables, number, path, text
from retrieval.faiss_index import INDEX_KINDS, IndexKind

SearchMode = Literal["hybrid", "dense", "bm25"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Calibrated with `python -m retrieval calibrate` (docs/benchmarks.md): below this cosine
# similarity the best passage is more often an off-topic match than an answer.
DEFAULT_MIN_SIMILARITY = 0.40
DEFAULT_HYBRID_ALPHA = 0.8
# Chinese questions (docs/benchmarks.md, "Chinese documents"): the English-trained encoder
# reads Chinese poorly, so keywords (jieba words) weigh more, and they decide the refusal.
DEFAULT_HYBRID_ALPHA_ZH = 0.3
DEFAULT_MIN_KEYWORD_ZH = 3.0


def _search_mode() -> Parser[SearchMode]:
    """hybrid, dense or bm25, in any case."""

    def parse(raw: str) -> SearchMode:
        mode = raw.lower()
        if mode not in SEARCH_MODES:
            raise ValueError(f"must be one of {', '.join(SEARCH_MODES)}, got {raw!r}")
        return cast(SearchMode, mode)

    return Parser(f"one of {', '.join(SEARCH_MODES)}", parse)


def _index_kind() -> Parser[IndexKind | None]:
    """auto (choose by the number of chunks) or a FAISS index kind, in any case."""

    def parse(raw: str) -> IndexKind | None:
        kind = raw.lower()
        if kind == "auto":
            return None
        if kind not in INDEX_KINDS:
            raise ValueError(f"must be one of auto, {', '.join(INDEX_KINDS)}, got {raw!r}")
        return cast(IndexKind, kind)

    return Parser(f"one of auto, {', '.join(INDEX_KINDS)}", parse)


RETRIEVAL = Variables("retrieval", "Document retrieval (the action server, `python -m retrieval`)")

DOCS_DIR = RETRIEVAL.add(
    "RETRIEVAL_DOCS_DIR", ROOT / "data" / "docs", "the documents to index", path()
)
INDEX_DIR = RETRIEVAL.add(
    "RETRIEVAL_INDEX_DIR",
    ROOT / "var" / "index",
    "where the index and chunk metadata are kept",
    path(),
)
MODEL = RETRIEVAL.add(
    "RETRIEVAL_MODEL", DEFAULT_MODEL, "a packaged model name or a local model folder", text()
)
INDEX_KIND = RETRIEVAL.add(
    "RETRIEVAL_INDEX_KIND",
    None,
    "the FAISS index kind; auto: chosen by the number of chunks",
    _index_kind(),
    shown_default="auto",
)
SEARCH = RETRIEVAL.add(
    "RETRIEVAL_SEARCH", cast(SearchMode, "hybrid"), "how passages are scored", _search_mode()
)
HYBRID_ALPHA = RETRIEVAL.add(
    "RETRIEVAL_HYBRID_ALPHA",
    DEFAULT_HYBRID_ALPHA,
    "weight of the dense score in hybrid search",
    number(0, 1),
)
HYBRID_ALPHA_ZH = RETRIEVAL.add(
    "RETRIEVAL_HYBRID_ALPHA_ZH",
    DEFAULT_HYBRID_ALPHA_ZH,
    "the same for questions in Chinese",
    number(0, 1),
)
MIN_SIMILARITY = RETRIEVAL.add(
    "RETRIEVAL_MIN_SIMILARITY",
    DEFAULT_MIN_SIMILARITY,
    "below this similarity the bot says it doesn't know",
    number(),
)
MIN_KEYWORD_ZH = RETRIEVAL.add(
    "RETRIEVAL_MIN_KEYWORD_ZH",
    DEFAULT_MIN_KEYWORD_ZH,
    "a Chinese question's refusal: best BM25 score below this",
    number(),
)
DOCS_URL = RETRIEVAL.add(
    "RETRIEVAL_DOCS_URL",
    "/docs",
    "link prefix for documents that have no URL of their own; blank: none",
    text(),
    blank="",
)
PRODUCT_VECTORS_DIR = RETRIEVAL.add(
    "PRODUCT_VECTORS_DIR",
    ROOT / "var" / "vectors",
    "where the product texts' vectors are kept (out-of-stock alternatives)",
    path(),
)
COMPANY_FACTS_FILE = RETRIEVAL.add(
    "COMPANY_FACTS_FILE",
    ROOT / "data" / "company.yml",
    "the company facts the documents' {{ placeholders }} are filled from (the same file the "
    "ERP layer makes returns by)",
    path(),
)


@dataclass(frozen=True)
class RetrievalSettings:
    """Everything configurable about retrieval, with safe local defaults."""

    docs_dir: Path
    index_dir: Path
    model: str
    index_kind: IndexKind | None
    mode: SearchMode
    alpha: float
    min_similarity: float
    docs_url: str
    alpha_zh: float = DEFAULT_HYBRID_ALPHA_ZH
    min_keyword_zh: float = DEFAULT_MIN_KEYWORD_ZH

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetrievalSettings:
        """The ``RETRIEVAL_*`` variables of ``env`` (default: this process's environment).

        Raises:
            SettingsError: a value cannot be used (the message names the variable).
        """
        env = os.environ if env is None else env
        return cls(
            docs_dir=DOCS_DIR.read(env),
            index_dir=INDEX_DIR.read(env),
            model=MODEL.read(env),
            index_kind=INDEX_KIND.read(env),
            mode=SEARCH.read(env),
            alpha=HYBRID_ALPHA.read(env),
            min_similarity=MIN_SIMILARITY.read(env),
            alpha_zh=HYBRID_ALPHA_ZH.read(env),
            min_keyword_zh=MIN_KEYWORD_ZH.read(env),
            docs_url=DOCS_URL.read(env),
        )

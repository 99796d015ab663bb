"""Where documents and the index live, which model embeds, and how search scores: from the env."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast, get_args

from retrieval.faiss_index import IndexKind, parse_kind

ROOT = Path(__file__).resolve().parent.parent
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


@dataclass(frozen=True)
class RetrievalSettings:
    """Everything configurable about retrieval, with safe local defaults.

    | variable | default | what |
    |---|---|---|
    | RETRIEVAL_DOCS_DIR | data/docs | the documents to index |
    | RETRIEVAL_INDEX_DIR | var/index | where the index and chunk metadata are kept |
    | RETRIEVAL_MODEL | all-MiniLM-L6-v2 | a packaged model name or a local model folder |
    | RETRIEVAL_INDEX_KIND | auto | flat, hnsw, ivf or ivfpq to override the size rule |
    | RETRIEVAL_SEARCH | hybrid | hybrid, dense or bm25 |
    | RETRIEVAL_HYBRID_ALPHA | 0.8 | weight of the dense score in hybrid search |
    | RETRIEVAL_HYBRID_ALPHA_ZH | 0.3 | the same for questions in Chinese |
    | RETRIEVAL_MIN_SIMILARITY | 0.40 | below this the bot says it doesn't know |
    | RETRIEVAL_MIN_KEYWORD_ZH | 3.0 | a Chinese question's refusal: best BM25 score below this |
    | RETRIEVAL_DOCS_URL | /docs | link prefix for documents that have no URL of their own |
    """

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
    def from_env(cls) -> RetrievalSettings:
        mode = os.environ.get("RETRIEVAL_SEARCH", "hybrid").strip().lower()
        if mode not in SEARCH_MODES:
            raise ValueError(f"RETRIEVAL_SEARCH must be one of {SEARCH_MODES}, got {mode!r}")
        alpha = _alpha("RETRIEVAL_HYBRID_ALPHA", DEFAULT_HYBRID_ALPHA)
        return cls(
            docs_dir=Path(os.environ.get("RETRIEVAL_DOCS_DIR", ROOT / "data" / "docs")),
            index_dir=Path(os.environ.get("RETRIEVAL_INDEX_DIR", ROOT / "var" / "index")),
            model=os.environ.get("RETRIEVAL_MODEL", DEFAULT_MODEL),
            index_kind=parse_kind(os.environ.get("RETRIEVAL_INDEX_KIND")),
            mode=cast(SearchMode, mode),
            alpha=alpha,
            min_similarity=_float("RETRIEVAL_MIN_SIMILARITY", DEFAULT_MIN_SIMILARITY),
            alpha_zh=_alpha("RETRIEVAL_HYBRID_ALPHA_ZH", DEFAULT_HYBRID_ALPHA_ZH),
            min_keyword_zh=_float("RETRIEVAL_MIN_KEYWORD_ZH", DEFAULT_MIN_KEYWORD_ZH),
            docs_url=os.environ.get("RETRIEVAL_DOCS_URL", "/docs"),
        )


def _alpha(name: str, default: float) -> float:
    alpha = _float(name, default)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {alpha}")
    return alpha


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None

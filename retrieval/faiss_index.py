"""FAISS index choice and construction: exact for small corpora, approximate above a size.

| vectors          | CPU                 | GPU (faiss-gpu and a device)      |
|------------------|---------------------|-----------------------------------|
| < 20,000         | flat (exact, IP)    | flat on the GPU                   |
| < 5,000,000      | HNSW (M=32)         | IVF-Flat on the GPU (no GPU HNSW) |
| more             | IVF-PQ + refine     | IVF-PQ on the GPU                 |

Vectors are L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import numpy as np

IndexKind = Literal["flat", "hnsw", "ivf", "ivfpq"]
INDEX_KINDS: tuple[str, ...] = get_args(IndexKind)
APPROXIMATE_FROM = 20_000
COMPRESSED_FROM = 5_000_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 96


def gpu_available() -> bool:
    """True when the installed faiss has GPU support and sees at least one GPU."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def parse_kind(value: str | None) -> IndexKind | None:
    """An index kind from configuration ('' or 'auto' means: choose by size)."""
    if value is None or value.strip().lower() in ("", "auto"):
        return None
    kind = value.strip().lower()
    if kind not in INDEX_KINDS:
        raise ValueError(f"index kind must be one of auto, {', '.join(INDEX_KINDS)}; got {value!r}")
    return cast(IndexKind, kind)


@dataclass(frozen=True)
class IndexPlan:
    """Which index to build, and whether it goes on a GPU."""

    kind: IndexKind
    gpu: bool


def choose_index(
    n_vectors: int,
    *,
    gpu: bool | None = None,
    override: IndexKind | None = None,
    approximate_from: int = APPROXIMATE_FROM,
    compressed_from: int = COMPRESSED_FROM,
) -> IndexPlan:
    """The index for `n_vectors` vectors: exact when small, approximate when large.

    `gpu=None` asks faiss whether a GPU is there. `override` forces a kind (HNSW has no GPU
    version, so an HNSW override keeps the index on the CPU).
    """
    if n_vectors < 0:
        raise ValueError(f"n_vectors must be >= 0, got {n_vectors}")
    on_gpu = gpu_available() if gpu is None else gpu
    if override is not None:
        return IndexPlan(override, on_gpu and override != "hnsw")
    if n_vectors < approximate_from:
        return IndexPlan("flat", on_gpu)
    if n_vectors < compressed_from:
        return IndexPlan("ivf" if on_gpu else "hnsw", on_gpu)
    return IndexPlan("ivfpq", on_gpu)


def _n_lists(n_vectors: int) -> int:
    """IVF cells: about 4·√n, at least 1, and at most n/39 so each cell can be trained."""
    return max(1, min(int(4 * math.sqrt(n_vectors)), n_vectors // 39 or 1))


def build_index(vectors: np.ndarray, kind: IndexKind, *, gpu: bool = False) -> Any:
    """Build and fill an inner-product index of `kind` over `vectors` (float32, n × d)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    index: Any
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind == "ivf":
        index = faiss.IndexIVFFlat(
            faiss.IndexFlatIP(dim), dim, _n_lists(n), faiss.METRIC_INNER_PRODUCT
        )
    else:
        # PQ codes lose precision; re-ranking the candidates on the full vectors restores it.
        sub = next(m for m in (dim // 8, dim // 4, dim // 2, dim) if m > 0 and dim % m == 0)
        ivfpq = faiss.IndexIVFPQ(
            faiss.IndexFlatIP(dim), dim, _n_lists(n), sub, 8, faiss.METRIC_INNER_PRODUCT
        )
        index = faiss.IndexRefineFlat(ivfpq)
        index.k_factor = 4
    if gpu:
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    if not index.is_trained:
        index.train(vectors)
    index.add(vectors)
    set_search_effort(index, kind)
    return index


def set_search_effort(index: Any, kind: IndexKind, *, probes: int | None = None) -> None:
    """Search parameters that keep recall@10 near exact search (HNSW efSearch, IVF nprobe)."""
    import faiss

    if kind == "hnsw":
        hnsw: Any = faiss.downcast_index(index)
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind in ("ivf", "ivfpq"):
        inner = index.base_index if kind == "ivfpq" and hasattr(index, "base_index") else index
        n_lists = faiss.extract_index_ivf(inner).nlist
        faiss.extract_index_ivf(inner).nprobe = probes or max(1, min(n_lists, n_lists // 16 + 8))


def to_cpu(index: Any) -> Any:
    """A CPU copy of an index that may live on a GPU (GPU indexes cannot be written)."""
    import faiss

    if hasattr(faiss, "index_gpu_to_cpu") and type(index).__name__.startswith("Gpu"):
        return faiss.index_gpu_to_cpu(index)
    return index

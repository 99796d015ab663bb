"""Index choice by corpus size and GPU availability; approximate indexes agree with exact."""

from __future__ import annotations

import types

import numpy as np
import pytest

from benchmarks.retrieval import clustered_vectors
from retrieval import faiss_index, store
from retrieval.faiss_index import IndexPlan, build_index, choose_index, parse_kind


@pytest.mark.parametrize(
    ("n", "gpu", "expected"),
    [
        (0, False, IndexPlan("flat", False)),
        (19_999, False, IndexPlan("flat", False)),
        (20_000, False, IndexPlan("hnsw", False)),
        (4_999_999, False, IndexPlan("hnsw", False)),
        (5_000_000, False, IndexPlan("ivfpq", False)),
        (1_000, True, IndexPlan("flat", True)),
        (1_000_000, True, IndexPlan("ivf", True)),
        (50_000_000, True, IndexPlan("ivfpq", True)),
    ],
    ids=["empty", "small", "threshold", "large", "huge", "gpu-small", "gpu-large", "gpu-huge"],
)
def test_choice_by_size_and_gpu(n: int, gpu: bool, expected: IndexPlan) -> None:
    assert choose_index(n, gpu=gpu) == expected


def test_override_wins_and_hnsw_stays_on_the_cpu() -> None:
    assert choose_index(10, gpu=False, override="hnsw") == IndexPlan("hnsw", False)
    assert choose_index(10**7, gpu=False, override="flat") == IndexPlan("flat", False)
    assert choose_index(10, gpu=True, override="hnsw") == IndexPlan("hnsw", False)
    assert choose_index(10, gpu=True, override="ivfpq") == IndexPlan("ivfpq", True)


def test_parse_kind() -> None:
    assert parse_kind(None) is None and parse_kind("auto") is None and parse_kind(" ") is None
    assert parse_kind("HNSW") == "hnsw"
    with pytest.raises(ValueError, match="index kind must be one of auto, flat"):
        parse_kind("annoy")


def fake_faiss(*, gpus: int, has_gpu_module: bool) -> types.SimpleNamespace:
    module = types.SimpleNamespace(get_num_gpus=lambda: gpus)
    if has_gpu_module:
        module.StandardGpuResources = object
    return module


@pytest.mark.parametrize(
    ("gpus", "has_gpu_module", "expected"),
    [(0, False, False), (0, True, False), (1, False, False), (2, True, True)],
    ids=["faiss-cpu", "faiss-gpu-no-device", "no-gpu-module", "faiss-gpu-with-device"],
)
def test_gpu_guard(
    monkeypatch: pytest.MonkeyPatch, gpus: int, has_gpu_module: bool, expected: bool
) -> None:
    monkeypatch.setitem(
        __import__("sys").modules, "faiss", fake_faiss(gpus=gpus, has_gpu_module=has_gpu_module)
    )
    assert faiss_index.gpu_available() is expected
    assert isinstance(store.make_store(), store.GpuFaissStore) is expected
    assert choose_index(10).gpu is expected


def test_the_real_faiss_cpu_has_no_gpu() -> None:
    assert faiss_index.gpu_available() is False
    assert type(store.make_store()) is store.FaissStore


@pytest.mark.parametrize("kind", ["hnsw", "ivf", "ivfpq"])
def test_approximate_indexes_find_what_exact_search_finds(kind: faiss_index.IndexKind) -> None:
    data = clustered_vectors(6_100, 64, clusters=50, latent=16, seed=1)
    corpus, queries = data[:6_000], data[6_000:]
    _, truth = build_index(corpus, "flat").search(queries, 10)
    _, found = build_index(corpus, kind).search(queries, 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.9


def test_store_switches_to_an_approximate_index_above_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from retrieval.types import Chunk, Citation

    monkeypatch.setattr(faiss_index, "APPROXIMATE_FROM", 100)
    monkeypatch.setattr(
        store, "choose_index", lambda n, **kw: choose_index(n, approximate_from=100, **kw)
    )
    vectors = clustered_vectors(150, 32, clusters=5, latent=8)
    citation = Citation("a.md", "A", "A", "/docs/a.md")
    chunks = [Chunk(f"a.md#{i}", f"text {i}", citation) for i in range(150)]
    faiss_store = store.FaissStore()
    faiss_store.write("a.md", "fp", chunks[:99], vectors[:99])
    assert faiss_store.plan.kind == "flat"
    faiss_store.write("a.md", "fp", chunks, vectors)
    assert faiss_store.plan.kind == "hnsw"
    assert faiss_store.search(vectors[7], 1)[0][0] == 7

"""Search: typed passages with citations, interchangeable stores, hybrid ranking, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import retrieval
from retrieval import service
from retrieval.chunking import chunk_document
from retrieval.errors import IndexNotBuilt, InvalidQuery, RetrievalError
from retrieval.indexer import build_index
from retrieval.loaders import document_files, load_document
from retrieval.service import Retriever, default_retriever
from retrieval.store import DocumentStore, FaissStore, InMemoryStore
from tests.retrieval.conftest import CountingEmbedder


def fill(store: DocumentStore, docs_dir: Path, embedder: CountingEmbedder) -> DocumentStore:
    for path in document_files(docs_dir):
        chunks = chunk_document(load_document(path, docs_dir))
        vectors = embedder.embed([c.embedding_text() for c in chunks])
        store.write(chunks[0].citation.document, "fp", chunks, vectors)
    return store


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_in_memory_and_faiss_stores_give_the_same_passages(
    docs_dir: Path, fake_embedder: CountingEmbedder, mode: str
) -> None:
    memory = Retriever(fill(InMemoryStore(), docs_dir, fake_embedder), fake_embedder, mode=mode)  # type: ignore[arg-type]
    faiss = Retriever(fill(FaissStore(), docs_dir, fake_embedder), fake_embedder, mode=mode)  # type: ignore[arg-type]
    query = "restocking fee for an unwanted item"
    expected = memory.search(query, top_k=4)
    found = faiss.search(query, top_k=4)
    assert [p.chunk_id for p in found] == [p.chunk_id for p in expected]
    assert [p.score for p in found] == pytest.approx([p.score for p in expected], abs=1e-5)
    assert found[0].citation.section == "Restocking fees"


def test_hybrid_score_mixes_cosine_and_normalised_bm25(
    docs_dir: Path, fake_embedder: CountingEmbedder
) -> None:
    store = fill(InMemoryStore(), docs_dir, fake_embedder)
    hybrid = Retriever(store, fake_embedder, mode="hybrid", alpha=0.25)
    keywords = Retriever(store, fake_embedder, mode="bm25")
    for passage in hybrid.search("deliver to Norway", top_k=5):
        keyword = next(
            (
                k.score
                for k in keywords.search("deliver to Norway", 50)
                if k.chunk_id == passage.chunk_id
            ),
            0.0,
        )
        assert passage.score == pytest.approx(0.25 * passage.similarity + 0.75 * keyword, abs=1e-5)


@pytest.mark.parametrize(
    ("query", "top_k", "message"),
    [("   ", 5, "empty"), ("x" * 2001, 5, "at most 2000"), ("returns", 0, "greater than 0, got 0")],
    ids=["blank", "too-long", "zero-k"],
)
def test_bad_queries_say_what_is_wrong(
    fake_embedder: CountingEmbedder, query: str, top_k: int, message: str
) -> None:
    retriever = Retriever(InMemoryStore(), fake_embedder)
    with pytest.raises(InvalidQuery, match=message):
        retriever.search(query, top_k=top_k)


def test_empty_store_finds_nothing(fake_embedder: CountingEmbedder) -> None:
    assert Retriever(FaissStore(), fake_embedder).search("anything") == []


def test_real_model_finds_the_answer_in_each_format(docs_dir: Path, real_embedder) -> None:  # type: ignore[no-untyped-def]
    store = fill(InMemoryStore(), docs_dir, real_embedder)
    retriever = Retriever(store, real_embedder)
    cases = {
        "how do I reset the X200 controller?": (
            "products/x200-manual.pdf",
            "Resetting the controller",
        ),
        "do you ship to Norway?": ("policies/shipping.html", "Countries we deliver to"),
        "how long is the warranty on a power tool": ("policies/warranty.docx", "Warranty periods"),
        "how many days do I have to send something back": ("policies/returns.md", "Return window"),
    }
    for question, (document, section) in cases.items():
        best = retriever.search(question, top_k=3)[0]
        assert (best.citation.document, best.citation.section) == (document, section), question
        assert best.similarity > 0.4


def test_default_retriever_loads_the_built_index(
    docs_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    real_embedder,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("RETRIEVAL_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setattr(service, "SentenceTransformerEmbedder", lambda model: real_embedder)
    default_retriever.cache_clear()
    with pytest.raises(IndexNotBuilt, match="make index"):
        default_retriever()
    build_index(docs_dir, tmp_path / "index", real_embedder, progress=False)
    default_retriever.cache_clear()
    try:
        passages = retrieval.search("what does error E4 mean", top_k=2)
        assert passages[0].citation.section == "Error codes"
        assert isinstance(passages[0].score, float) and passages[0].text
    finally:
        default_retriever.cache_clear()


def test_an_index_of_another_model_is_refused(
    docs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_embedder: CountingEmbedder
) -> None:
    build_index(docs_dir, tmp_path / "index", fake_embedder, progress=False)
    monkeypatch.setenv("RETRIEVAL_INDEX_DIR", str(tmp_path / "index"))
    default_retriever.cache_clear()
    try:
        with pytest.raises(RetrievalError, match="built with 'counting-fake'"):
            default_retriever()
    finally:
        default_retriever.cache_clear()


def test_importing_retrieval_loads_no_model() -> None:
    import subprocess
    import sys

    code = "import sys, retrieval; print('torch' in sys.modules, 'faiss' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_store_rejects_mismatched_vectors() -> None:
    with pytest.raises(ValueError, match="2 chunks but 1 vectors"):
        InMemoryStore().write("a.md", "fp", [object(), object()], np.zeros((1, 4)))  # type: ignore[list-item]

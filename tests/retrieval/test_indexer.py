"""The index is rebuilt incrementally: only new and changed documents are embedded again."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.indexer import build_index
from retrieval.store import FaissStore
from tests.retrieval.conftest import RETURNS_MD, CountingEmbedder


def documents_in(index_dir: Path) -> set[str]:
    store, _ = FaissStore.load(index_dir)
    return {c.citation.document for c in store.chunks()}


def test_first_build_embeds_every_document(
    docs_dir: Path, tmp_path: Path, fake_embedder: CountingEmbedder
) -> None:
    report = build_index(docs_dir, tmp_path / "index", fake_embedder, progress=False)
    assert sorted(report.added) == [
        "policies/returns.md",
        "policies/shipping.html",
        "policies/warranty.docx",
        "products/x200-manual.pdf",
    ]
    assert report.embedded_chunks == report.total_chunks == len(fake_embedder.embedded) > 4
    assert report.index_kind == "flat"
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["model"] == "counting-fake"
    assert documents_in(tmp_path / "index") == set(report.added)


def test_the_build_says_how_far_it_is(
    docs_dir: Path, tmp_path: Path, fake_embedder: CountingEmbedder
) -> None:
    seen: list[str] = []
    report = build_index(docs_dir, tmp_path / "index", fake_embedder, progress=False,
                         status=seen.append)  # fmt: skip
    assert seen[0] == "reading 4 documents"
    assert seen[1] == f"embedding chunks 0/{report.embedded_chunks}"
    assert all(line.startswith("embedding chunks ") for line in seen[1:])


def test_nothing_changed_embeds_nothing(
    docs_dir: Path, tmp_path: Path, fake_embedder: CountingEmbedder
) -> None:
    build_index(docs_dir, tmp_path / "index", fake_embedder, progress=False)
    again = CountingEmbedder()
    report = build_index(docs_dir, tmp_path / "index", again, progress=False)
    assert not report.changed
    assert again.embedded == []
    assert report.unchanged == 4
    assert report.summary() == "Document index is up to date (4 documents)."


def test_only_the_changed_document_is_embedded_again(
    docs_dir: Path, tmp_path: Path, fake_embedder: CountingEmbedder
) -> None:
    build_index(docs_dir, tmp_path / "index", fake_embedder, progress=False)
    (docs_dir / "policies/returns.md").write_text(
        RETURNS_MD.replace("30 calendar days", "60 calendar days")
    )
    again = CountingEmbedder()
    report = build_index(docs_dir, tmp_path / "index", again, progress=False)
    assert report.updated == ["policies/returns.md"]
    assert report.added == [] and report.removed == [] and report.unchanged == 3
    assert again.embedded and all(t.startswith("Returns and refunds") for t in again.embedded)
    store, _ = FaissStore.load(tmp_path / "index")
    texts = " ".join(c.text for c in store.chunks())
    assert "60 calendar days" in texts and "30 calendar days" not in texts


def test_deleted_and_added_documents(
    docs_dir: Path, tmp_path: Path, fake_embedder: CountingEmbedder
) -> None:
    build_index(docs_dir, tmp_path / "index", fake_embedder, progress=False)
    (docs_dir / "policies/shipping.html").unlink()
    (docs_dir / "faq.md").write_text("# FAQ\n\n## Opening hours\n\nWe are open 8:00 to 18:00.\n")
    again = CountingEmbedder()
    report = build_index(docs_dir, tmp_path / "index", again, progress=False)
    assert report.removed == ["policies/shipping.html"]
    assert report.added == ["faq.md"]
    assert again.embedded == ["FAQ › Opening hours\nWe are open 8:00 to 18:00."]
    assert "policies/shipping.html" not in documents_in(tmp_path / "index")
    assert "faq.md" in documents_in(tmp_path / "index")


def test_an_unreadable_document_is_skipped_and_named(
    docs_dir: Path, tmp_path: Path, fake_embedder: CountingEmbedder
) -> None:
    (docs_dir / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    report = build_index(docs_dir, tmp_path / "index", fake_embedder, progress=False)
    assert "broken.pdf" in report.failed
    assert "skipped broken.pdf" in report.summary()
    assert len(report.added) == 4


def test_another_model_rebuilds_everything(
    docs_dir: Path, tmp_path: Path, fake_embedder: CountingEmbedder
) -> None:
    build_index(docs_dir, tmp_path / "index", fake_embedder, progress=False)

    class OtherModel(CountingEmbedder):
        name = "other-model"

    other = OtherModel()
    report = build_index(docs_dir, tmp_path / "index", other, progress=False)
    assert len(report.added) == 4 and len(other.embedded) == report.total_chunks

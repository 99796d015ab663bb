"""Chunks stay inside one section, keep its heading and carry a citation."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.chunking import chunk_document
from retrieval.loaders import Document, Section, load_document


def test_every_chunk_keeps_its_section_heading_and_citation(docs_dir: Path) -> None:
    chunks = chunk_document(load_document(docs_dir / "policies/returns.md", docs_dir))
    window = next(c for c in chunks if "30 calendar days" in c.text)
    assert window.citation.section == "Return window"
    assert window.citation.title == "Returns and refunds"
    assert window.citation.document == "policies/returns.md"
    assert window.citation.url == "https://help.example/returns"
    assert window.citation.label == "Returns and refunds › Return window"
    assert window.embedding_text().startswith("Returns and refunds › Return window\n")
    fees = next(c for c in chunks if "Restocking fee: No fee" in c.text)
    assert fees.citation.section == "Restocking fees"


def test_document_without_url_is_cited_by_its_path(docs_dir: Path) -> None:
    document = load_document(docs_dir / "products/x200-manual.pdf", docs_dir)
    chunks = chunk_document(document, docs_url="/docs/")
    assert {c.citation.url for c in chunks} == {"/docs/products/x200-manual.pdf"}


def test_long_section_splits_into_chunks_of_the_same_section() -> None:
    sentences = [f"Sentence number {i} says something about pallets." for i in range(60)]
    document = Document(
        path="long.md",
        title="Long",
        url="",
        sections=[
            Section(("Long", "Pallets"), [" ".join(sentences)]),
            Section(("Long", "End"), ["Short."]),
        ],
    )
    chunks = chunk_document(document, max_words=50, overlap_words=10)
    pallets = [c for c in chunks if c.citation.section == "Pallets"]
    assert len(pallets) > 3
    assert all(len(c.text.split()) <= 50 for c in pallets)
    assert " ".join(c.text for c in pallets) == " ".join(sentences)  # sentences kept whole
    assert chunks[-1].citation.section == "End" and chunks[-1].text == "Short."
    assert len({c.id for c in chunks}) == len(chunks)


def test_a_sentence_longer_than_a_chunk_is_split_with_overlap() -> None:
    words = [f"w{i}" for i in range(120)]
    document = Document("run-on.md", "Run-on", "", [Section(("Run-on",), [" ".join(words)])])
    chunks = chunk_document(document, max_words=50, overlap_words=10)
    assert [c.text.split()[0] for c in chunks] == ["w0", "w40", "w80"]
    assert chunks[-1].text.split()[-1] == "w119"


def test_bad_chunk_sizes_are_refused() -> None:
    document = Document("a.md", "A", "", [])
    with pytest.raises(ValueError, match="max_words must exceed overlap_words"):
        chunk_document(document, max_words=10, overlap_words=10)

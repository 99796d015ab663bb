"""Each format loads into titled sections that keep their headings; tables keep header names."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import UnreadableDocument
from retrieval.loaders import document_files, load_document, table_rows


def sections(root: Path, relative: str) -> dict[str, list[str]]:
    document = load_document(root / relative, root)
    return {s.heading: s.blocks for s in document.sections}


def test_markdown_front_matter_sections_and_table(docs_dir: Path) -> None:
    document = load_document(docs_dir / "policies/returns.md", docs_dir)
    assert document.title == "Returns and refunds"
    assert document.url == "https://help.example/returns"
    assert document.path == "policies/returns.md"
    found = {s.headings: s.blocks for s in document.sections}
    assert found[("Returns and refunds", "Return window")] == [
        "You can return most items within 30 calendar days of delivery."
    ]
    assert found[("Returns and refunds", "Restocking fees")] == [
        "Reason for return: Faulty item; Restocking fee: No fee",
        "Reason for return: Unwanted item, unopened; Restocking fee: 15% of the item price",
    ]


def test_html_title_canonical_link_and_no_navigation(docs_dir: Path) -> None:
    document = load_document(docs_dir / "policies/shipping.html", docs_dir)
    assert document.title == "Shipping and delivery"  # the site name after "|" is dropped
    assert document.url == "https://help.example/shipping"
    found = sections(docs_dir, "policies/shipping.html")
    assert found["Countries we deliver to"] == [
        "We deliver to the United Kingdom, the Netherlands and Germany. "
        "We do not deliver to Norway or Switzerland."
    ]
    assert found["Delivery charges"] == [
        "Order value: Under GBP 150; Charge: GBP 9.95",
        "Order value: GBP 150 or more; Charge: Free",
    ]
    text = " ".join(b for blocks in found.values() for b in blocks)
    assert "Home" not in text and "©" not in text


def test_docx_heading_styles_table_and_list(docs_dir: Path) -> None:
    document = load_document(docs_dir / "policies/warranty.docx", docs_dir)
    assert document.title == "Warranty policy"
    assert document.url == ""
    found = {s.headings: s.blocks for s in document.sections}
    assert found[("Warranty policy", "Warranty periods")] == [
        "Product group: Power tools; Warranty: 24 months",
        "Product group: Controllers; Warranty: 36 months",
    ]
    assert found[("Warranty policy", "Making a claim")] == [
        "Email warranty@example.com with your order number.",
        "- Keep the product until we reply.",
    ]


def test_pdf_headings_by_font_size_and_table(docs_dir: Path) -> None:
    document = load_document(docs_dir / "products/x200-manual.pdf", docs_dir)
    assert document.title == "X200 Controller manual"
    found = {s.headings: s.blocks for s in document.sections}
    reset = found[("X200 Controller manual", "Resetting the controller")]
    assert reset[0].startswith("To reset the X200, switch it off, hold the MODE button")
    assert found[("X200 Controller manual", "Error codes")] == [
        "Code: E1; Meaning: Supply voltage too low; What to do: Check the 24 V supply",
        "Code: E4; Meaning: Motor overheated; What to do: Let it cool for 15 minutes",
    ]


def test_document_files_lists_supported_formats_only(docs_dir: Path) -> None:
    (docs_dir / "notes.txt").write_text("not a document format we index")
    (docs_dir / ".hidden.md").write_text("# hidden")
    names = [p.relative_to(docs_dir).as_posix() for p in document_files(docs_dir)]
    assert names == [
        "policies/returns.md",
        "policies/shipping.html",
        "policies/warranty.docx",
        "products/x200-manual.pdf",
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"plain text"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf"),
        ("broken.docx", b"not a zip file"),
    ],
    ids=["unsupported", "broken-pdf", "broken-docx"],
)
def test_unreadable_documents_name_the_file(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UnreadableDocument) as raised:
        load_document(tmp_path / name, tmp_path)
    assert raised.value.path == name
    assert name in str(raised.value)


def test_table_rows_without_a_body_keep_the_cells() -> None:
    assert table_rows([["Only", "row"]]) == ["Only | row"]
    assert table_rows([["A", "B"], ["1", ""]]) == ["A: 1"]
    assert table_rows([]) == []

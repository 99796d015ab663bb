"""Small documents in every format, and embedders: a fast counting fake and the real model."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"

RETURNS_MD = """---
title: Returns and refunds
url: https://help.example/returns
---

# Returns and refunds

We want you to be happy with what you buy.

## Return window

You can return most items within **30 calendar days** of delivery.

## Restocking fees

| Reason for return | Restocking fee |
|---|---|
| Faulty item | No fee |
| Unwanted item, unopened | 15% of the item price |
"""

SHIPPING_HTML = """<!doctype html>
<html><head><title>Shipping and delivery | Example Help Centre</title>
<link rel="canonical" href="https://help.example/shipping"></head>
<body><nav>Home · Help</nav>
<h1>Shipping and delivery</h1>
<p>We deliver to businesses in three countries.</p>
<h2>Countries we deliver to</h2>
<p>We deliver to the United Kingdom, the Netherlands and Germany.
We do <em>not</em> deliver to Norway or Switzerland.</p>
<h2>Delivery charges</h2>
<table><tr><th>Order value</th><th>Charge</th></tr>
<tr><td>Under GBP 150</td><td>GBP 9.95</td></tr>
<tr><td>GBP 150 or more</td><td>Free</td></tr></table>
<footer>© Example</footer></body></html>
"""


def write_docx(path: Path) -> None:
    """A Word file with a Title, Heading 1/2 styles, a list and a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Warranty policy"
    document.add_heading("Warranty policy", level=1)
    document.add_paragraph("Every product we sell carries a warranty.")
    document.add_heading("Warranty periods", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, values in zip(
        table.rows,
        [("Product group", "Warranty"), ("Power tools", "24 months"), ("Controllers", "36 months")],
        strict=True,
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Making a claim", level=2)
    document.add_paragraph("Email warranty@example.com with your order number.")
    document.add_paragraph("Keep the product until we reply.", style="List Bullet")
    document.save(str(path))


@pytest.fixture()
def docs_dir(tmp_path: Path) -> Path:
    """One document of each format: Markdown, HTML, DOCX and PDF."""
    root = tmp_path / "docs"
    (root / "policies").mkdir(parents=True)
    (root / "products").mkdir()
    (root / "policies" / "returns.md").write_text(RETURNS_MD)
    (root / "policies" / "shipping.html").write_text(SHIPPING_HTML)
    write_docx(root / "policies" / "warranty.docx")
    shutil.copy(FIXTURES / "manual.pdf", root / "products" / "x200-manual.pdf")
    return root


class CountingEmbedder:
    """A deterministic bag-of-words embedder that counts the texts it embeds."""

    name = "counting-fake"
    dimension = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.embedded.extend(texts)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                bucket = int(hashlib.md5(word.strip(".,?!").encode()).hexdigest(), 16)
                vectors[row, bucket % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


@pytest.fixture()
def fake_embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The default packaged model (all-MiniLM-L6-v2), loaded once for the session."""
    from retrieval.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    embedder.warm_up()
    return embedder

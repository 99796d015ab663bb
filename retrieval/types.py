"""The typed values retrieval hands out: chunks of documents, citations and scored passages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from: enough to name it to a user and to link to it."""

    document: str  # path relative to the documents folder, e.g. "policies/returns.md"
    title: str
    section: str
    url: str
    language: str = "en"  # the document's language ("zh" for a Chinese version)

    @property
    def label(self) -> str:
        """'Title › Section', or just the title when the section is the title."""
        if not self.section or self.section == self.title:
            return self.title
        return f"{self.title} › {self.section}"


@dataclass(frozen=True)
class Chunk:
    """A piece of one section of one document, small enough to embed in one pass."""

    id: str
    text: str
    citation: Citation
    headings: tuple[str, ...] = field(default=())  # the heading path down to the section

    def embedding_text(self) -> str:
        """What is embedded and keyword-indexed: the title and headings give the text context."""
        context = [self.citation.title, *(h for h in self.headings if h != self.citation.title)]
        return f"{' › '.join(context)}\n{self.text}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "headings": list(self.headings)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(
            id=data["id"],
            text=data["text"],
            citation=Citation(**data["citation"]),
            headings=tuple(data.get("headings") or ()),
        )


@dataclass(frozen=True)
class Passage:
    """A search result.

    `score` orders the results (the fused dense and keyword score for hybrid search);
    `similarity` is the cosine similarity of query and passage, the calibrated confidence
    that answer/refuse decisions use.
    """

    text: str
    score: float
    similarity: float
    citation: Citation
    chunk_id: str
    keyword: float = 0.0  # the raw BM25 score (0 when no query word is in the passage)

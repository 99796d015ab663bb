"""Split loaded documents into chunks that each keep their document, section and citation."""

from __future__ import annotations

import re
from collections.abc import Iterator

from retrieval.loaders import Document, Section
from retrieval.types import Chunk, Citation

# all-MiniLM-L6-v2 reads 256 word pieces; the title and heading path take some of them.
MAX_WORDS = 140
OVERLAP_WORDS = 25
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def citation_url(document: Document, docs_url: str) -> str:
    """The document's own URL, or its path under `docs_url` when it has none."""
    if document.url:
        return document.url
    return f"{docs_url.rstrip('/')}/{document.path}"


def chunk_document(
    document: Document,
    *,
    docs_url: str = "/docs",
    max_words: int = MAX_WORDS,
    overlap_words: int = OVERLAP_WORDS,
) -> list[Chunk]:
    """Chunks of at most about `max_words` words, never crossing a section boundary.

    Blocks (paragraphs, list items, table rows) are packed whole; a block longer than a chunk
    is split at sentence ends, and a sentence longer than a chunk at words, with overlap.
    """
    if max_words <= overlap_words or overlap_words < 0:
        raise ValueError(
            f"max_words must exceed overlap_words >= 0, got {max_words} and {overlap_words}"
        )
    url = citation_url(document, docs_url)
    chunks: list[Chunk] = []
    for section in document.sections:
        citation = Citation(
            document=document.path,
            title=document.title,
            section=section.heading or document.title,
            url=url,
            language=document.language,
        )
        for text in _pack(section, max_words, overlap_words):
            chunks.append(
                Chunk(
                    id=f"{document.path}#{len(chunks)}",
                    text=text,
                    citation=citation,
                    headings=section.headings,
                )
            )
    return chunks


def _pack(section: Section, max_words: int, overlap_words: int) -> Iterator[str]:
    current: list[str] = []
    size = 0
    for piece in _pieces(section.blocks, max_words, overlap_words):
        words = _size(piece)
        if current and size + words > max_words:
            yield "\n".join(current)
            current, size = [], 0
        current.append(piece)
        size += words
    if current:
        yield "\n".join(current)


def _size(text: str) -> int:
    """A block's length in words; Chinese, written without spaces, counts two characters as
    one word (about what a sentence encoder's tokens make of it)."""
    return len(text.split()) + len(_HAN.findall(text)) // 2


def _pieces(blocks: list[str], max_words: int, overlap_words: int) -> Iterator[str]:
    """Blocks that fit, and the parts of those that do not."""
    for block in blocks:
        if len(block.split()) <= max_words:
            yield block
            continue
        sentence_group: list[str] = []
        size = 0
        for sentence in SENTENCE_END.split(block):
            words = sentence.split()
            if len(words) > max_words:
                if sentence_group:
                    yield " ".join(sentence_group)
                    sentence_group, size = [], 0
                step = max_words - overlap_words
                for start in range(0, len(words) - overlap_words, step):
                    yield " ".join(words[start : start + max_words])
                continue
            if sentence_group and size + len(words) > max_words:
                yield " ".join(sentence_group)
                sentence_group, size = [], 0
            sentence_group.append(sentence)
            size += len(words)
        if sentence_group:
            yield " ".join(sentence_group)

"""Read company documents (Markdown, HTML, PDF, DOCX) into titled sections of text blocks.

Every format ends up as a `Document`: a title, a link to cite, and sections that each keep
their heading path. Tables become one text row per table row that keeps the header names
("Reason: Unwanted item; Fee: 15%"), so a row still makes sense on its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from i18n.languages import as_language
from retrieval.errors import UnreadableDocument
from retrieval.facts import UnknownFact, company_facts, fill_facts

HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")
BLOCK_TAGS = (*HEADING_TAGS, "p", "li", "table", "pre", "blockquote", "dt", "dd")
SKIPPED_TAGS = ("script", "style", "nav", "header", "footer", "noscript", "template")


@dataclass
class Section:
    """The text blocks under one heading; `headings` is the path from the top heading down."""

    headings: tuple[str, ...]
    blocks: list[str] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return self.headings[-1] if self.headings else ""


@dataclass
class Document:
    """One loaded document: what to call it, where it lives, and its sections in order."""

    path: str  # relative to the documents folder, with forward slashes
    title: str
    url: str
    sections: list[Section]
    language: str = "en"  # front matter `language: zh` marks a Chinese version


class _SectionBuilder:
    """Collects blocks under the current heading path as headings come and go."""

    def __init__(self) -> None:
        self.path: list[tuple[int, str]] = []
        self.sections: list[Section] = [Section(headings=())]

    def heading(self, level: int, text: str) -> None:
        text = _clean(text)
        if not text:
            return
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text))
        self.sections.append(Section(headings=tuple(t for _, t in self.path)))

    def continue_heading(self, text: str) -> bool:
        """Append a wrapped heading's next line to the heading just started, if nothing followed."""
        text = _clean(text)
        if not self.path or self.sections[-1].blocks or not text:
            return False
        level, start = self.path[-1]
        self.path[-1] = (level, f"{start} {text}")
        self.sections[-1] = Section(headings=tuple(t for _, t in self.path))
        return True

    def block(self, text: str) -> None:
        text = _clean(text)
        if text:
            self.sections[-1].blocks.append(text)

    def result(self) -> list[Section]:
        return [s for s in self.sections if s.blocks]

    def first_heading(self) -> str:
        return next((s.headings[0] for s in self.sections if s.headings), "")


def _clean(text: str) -> str:
    return " ".join(text.split())


def table_rows(rows: list[list[str]]) -> list[str]:
    """Table rows as text that keeps the header names: 'Header: value; Header: value'.

    The first row is taken as the header. A one-row table, or a row with no header names,
    is written as its cells joined by ' | '.
    """
    cleaned = [[_clean(cell or "") for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    header, *body = cleaned
    if not body or not any(header):
        return [" | ".join(c for c in row if c) for row in cleaned]
    lines = []
    for row in body:
        pairs = [
            f"{name}: {value}" if name else value
            for name, value in zip(header, row, strict=False)
            if value
        ]
        lines.append("; ".join(pairs))
    return lines


# --- HTML (and Markdown, rendered to HTML) -------------------------------------------------


def _html_sections(body: Any) -> _SectionBuilder:
    from bs4 import Tag

    builder = _SectionBuilder()
    for tag in body.find_all(SKIPPED_TAGS):
        tag.decompose()
    for element in body.find_all(BLOCK_TAGS):
        if not isinstance(element, Tag) or element.find_parent(BLOCK_TAGS) is not None:
            continue  # a paragraph inside a list item or a table cell is read with its parent
        name = element.name
        if name in HEADING_TAGS:
            builder.heading(int(name[1]), element.get_text())
        elif name == "table":
            rows = [
                [cell.get_text() for cell in tr.find_all(["th", "td"])]
                for tr in element.find_all("tr")
            ]
            for line in table_rows(rows):
                builder.block(line)
        elif name == "li":
            builder.block("- " + element.get_text())
        else:
            builder.block(element.get_text())
    return builder


def load_html(path: Path, relative: str) -> Document:
    """An HTML page: title from <title> (or the first heading), link from rel=canonical."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    canonical = soup.find("link", rel="canonical")
    url = str(canonical.get("href") or "") if canonical is not None else ""
    title = _clean(soup.title.get_text()) if soup.title is not None else ""
    builder = _html_sections(soup.body or soup)
    heading = builder.first_heading()
    if heading and title.startswith(heading):
        title = heading  # "Page | Site name" → "Page"
    return Document(
        path=relative,
        title=title or heading or path.stem,
        url=url,
        sections=builder.result(),
    )


FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)


def load_markdown(path: Path, relative: str) -> Document:
    """A Markdown file with optional YAML front matter (title, url); ``{{ fact }}``
    placeholders filled in from the company facts (retrieval/facts.py)."""
    from bs4 import BeautifulSoup
    from markdown_it import MarkdownIt

    try:
        text = fill_facts(path.read_text(encoding="utf-8"), company_facts()[0])
    except UnknownFact as error:
        raise UnreadableDocument(relative, str(error)) from error
    meta: dict[str, Any] = {}
    match = FRONT_MATTER.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as error:
            raise UnreadableDocument(relative, f"bad front matter: {error}") from error
        meta = loaded if isinstance(loaded, dict) else {}
        text = text[match.end() :]
    html = MarkdownIt("commonmark").enable("table").render(text)
    builder = _html_sections(BeautifulSoup(html, "html.parser"))
    return Document(
        path=relative,
        title=str(meta.get("title") or builder.first_heading() or path.stem),
        url=str(meta.get("url") or ""),
        sections=builder.result(),
        language=as_language(meta.get("language")) or "en",
    )


# --- DOCX ---------------------------------------------------------------------------------


HEADING_STYLE = re.compile(r"^Heading (\d)$")


def load_docx(path: Path, relative: str) -> Document:
    """A Word file: Heading 1/2/3 styles make sections, tables keep their header names."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(str(path))
    builder = _SectionBuilder()
    title = _clean(document.core_properties.title or "")
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = [[cell.text for cell in row.cells] for row in item.rows]
            for line in table_rows(rows):
                builder.block(line)
        elif isinstance(item, Paragraph):
            style = item.style.name if item.style is not None else ""
            level = HEADING_STYLE.match(style or "")
            if style == "Title":
                title = title or _clean(item.text)
            elif level:
                builder.heading(int(level.group(1)), item.text)
            elif style and style.startswith("List"):
                builder.block("- " + item.text if item.text.strip() else "")
            else:
                builder.block(item.text)
    return Document(
        path=relative,
        title=title or builder.first_heading() or path.stem,
        url="",
        sections=builder.result(),
    )


# --- PDF ----------------------------------------------------------------------------------


@dataclass
class _Line:
    text: str
    size: float
    top: float


def _pdf_lines(words: list[dict[str, Any]]) -> list[_Line]:
    """Words grouped into lines by their vertical position, with the line's largest font."""
    lines: list[_Line] = []
    for word in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1].top - word["top"]) < 2:
            lines[-1].text += " " + word["text"]
            lines[-1].size = max(lines[-1].size, word["size"])
        else:
            lines.append(_Line(word["text"], word["size"], word["top"]))
    return lines


def load_pdf(path: Path, relative: str) -> Document:
    """A PDF: lines set in a larger font than the body text are headings (larger = higher).

    Tables found by pdfplumber become header-keeping rows; their words are not read twice.
    """
    import pdfplumber

    pages: list[list[tuple[float, str | list[str], float]]] = []
    sizes: Counter[float] = Counter()
    with pdfplumber.open(str(path)) as pdf:
        title = _clean(str((pdf.metadata or {}).get("Title") or ""))
        for page in pdf.pages:
            tables = page.find_tables()
            boxes = [t.bbox for t in tables]

            def outside(obj: dict[str, Any], boxes: list[Any] = boxes) -> bool:
                return not any(
                    b[0] <= obj["x0"] and obj["x1"] <= b[2] and b[1] <= obj["top"] <= b[3]
                    for b in boxes
                )

            words = page.filter(outside).extract_words(extra_attrs=["size"], use_text_flow=True)
            items: list[tuple[float, str | list[str], float]] = []
            for line in _pdf_lines(words):
                size = round(line.size, 1)
                sizes[size] += len(line.text)
                items.append((line.top, line.text, size))
            for table in tables:
                rows = [[cell or "" for cell in row] for row in table.extract()]
                items.append((table.bbox[1], table_rows(rows), 0.0))
            pages.append(sorted(items, key=lambda item: item[0]))
    if not sizes:
        raise UnreadableDocument(relative, "no text found (a scanned PDF needs OCR first)")
    body_size = sizes.most_common(1)[0][0]
    heading_sizes = sorted((s for s in sizes if s > body_size + 0.5), reverse=True)
    level_of = {size: rank + 1 for rank, size in enumerate(heading_sizes)}
    builder = _SectionBuilder()
    paragraph: list[str] = []

    def flush() -> None:
        builder.block(" ".join(paragraph))
        paragraph.clear()

    for items in pages:
        previous_size = 0.0
        for _, content, size in items:
            if isinstance(content, list):
                flush()
                for row in content:
                    builder.block(row)
            elif size in level_of:
                flush()
                if size != previous_size or not builder.continue_heading(content):
                    builder.heading(level_of[size], content)
            elif content.lstrip().startswith(("•", "- ", "* ")) or _ends_sentence(paragraph):
                flush()
                paragraph.append(content)
            else:
                paragraph.append(content)
            previous_size = size
        flush()
    return Document(
        path=relative,
        title=title or builder.first_heading() or path.stem,
        url="",
        sections=builder.result(),
    )


def _ends_sentence(paragraph: list[str]) -> bool:
    """A line that ends a sentence and is clearly shorter than a full line ends a paragraph."""
    return (
        bool(paragraph)
        and paragraph[-1].rstrip().endswith((".", ":", "?", "!"))
        and len(paragraph[-1]) < 60
    )


# --- dispatch -----------------------------------------------------------------------------


LOADERS: dict[str, Callable[[Path, str], Document]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def load_document(path: Path, root: Path) -> Document:
    """Load one file under `root`; the document's path is kept relative to `root`."""
    relative = path.relative_to(root).as_posix()
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise UnreadableDocument(relative, f"unsupported format {path.suffix!r}")
    try:
        return loader(path, relative)
    except UnreadableDocument:
        raise
    except Exception as error:  # a broken file names itself instead of stopping the build
        raise UnreadableDocument(relative, f"{type(error).__name__}: {error}") from error


def document_files(root: Path) -> Iterator[Path]:
    """The loadable files under `root`, in a stable order (hidden files skipped)."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and path.suffix.lower() in LOADERS and not _hidden(relative.parts):
            yield path


def _hidden(parts: Iterable[str]) -> bool:
    return any(part.startswith(".") for part in parts)

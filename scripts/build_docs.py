"""Build the help-centre PDF and DOCX documents in data/docs/ from sources in scripts/doc_sources/.

Each source is a small Markdown file with front matter naming its title, help-centre URL and
output format::

    ---
    title: Credit limits
    url: https://help.northbridge-supply.example/policies/credit-limits
    format: docx
    ---

    # Credit limits
    ...

The supported Markdown is what the help centre needs and no more: ``#``/``##``/``###``
headings, paragraphs, ``-`` and ``1.`` lists, pipe tables and ``**bold**``/``*italic*`` (the
markers are dropped). PDFs use the core Helvetica font, so text is kept to Latin-1; DOCX files
use Word's built-in "Heading 1/2/3" styles and the "Table Grid" table style.

python-docx and fpdf2 are not dependencies of the project; run this from a throwaway venv:

    python3.11 -m venv /tmp/docgen
    /tmp/docgen/bin/pip install python-docx fpdf2
    /tmp/docgen/bin/python scripts/build_docs.py
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "scripts" / "doc_sources"
OUTPUT = ROOT / "data" / "docs"
AUTHOR = "Northbridge Supply Customer Support"
# Fixed so that rebuilding unchanged sources gives identical files.
BUILD_DATE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FOOTER = "Northbridge Supply Help Centre - help.northbridge-supply.example"
# Characters outside Latin-1 that the core PDF fonts cannot draw.
PDF_REPLACEMENTS = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u20ac": "EUR ",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2192": "->",
    "\u2122": "(TM)",
}


@dataclass
class Block:
    """One piece of a document: a heading, paragraph, list or table."""

    kind: str  # "heading", "paragraph", "bullets", "numbers" or "table"
    level: int = 0
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Source:
    """A parsed source file."""

    path: Path
    title: str
    url: str
    fmt: str
    blocks: list[Block]

    @property
    def output(self) -> Path:
        relative = self.path.relative_to(SOURCES).with_suffix(f".{self.fmt}")
        return OUTPUT / relative


def plain(text: str) -> str:
    """Drop the Markdown emphasis markers the help-centre sources use."""
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)


def parse(path: Path) -> Source:
    """Read a source file into its front matter and blocks.

    Raises:
        ValueError: the front matter is missing a field or names an unknown format.
    """
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not match:
        raise ValueError(f"{path}: missing front matter")
    meta = dict(
        (key.strip(), value.strip())
        for key, value in (line.split(":", 1) for line in match.group(1).splitlines())
    )
    for key in ("title", "url", "format"):
        if key not in meta:
            raise ValueError(f"{path}: front matter needs '{key}'")
    if meta["format"] not in ("pdf", "docx"):
        raise ValueError(f"{path}: format must be pdf or docx, got {meta['format']!r}")
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("paragraph", text=plain(" ".join(paragraph))))
            paragraph.clear()

    for line in text[match.end() :].splitlines():
        stripped = line.strip()
        heading = re.match(r"(#{1,3})\s+(.*)", stripped)
        bullet = re.match(r"[-*]\s+(.*)", stripped)
        number = re.match(r"\d+\.\s+(.*)", stripped)
        if not stripped:
            flush()
        elif heading:
            flush()
            blocks.append(Block("heading", level=len(heading.group(1)), text=heading.group(2)))
        elif stripped.startswith("|"):
            flush()
            cells = [plain(c.strip()) for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            if not blocks or blocks[-1].kind != "table":
                blocks.append(Block("table"))
            blocks[-1].rows.append(cells)
        elif bullet or number:
            flush()
            kind = "bullets" if bullet else "numbers"
            item = plain((bullet or number).group(1))  # type: ignore[union-attr]
            if not blocks or blocks[-1].kind != kind:
                blocks.append(Block(kind))
            blocks[-1].items.append(item)
        elif blocks and blocks[-1].kind in ("bullets", "numbers") and line.startswith("  "):
            blocks[-1].items[-1] += " " + plain(stripped)
        else:
            paragraph.append(stripped)
    flush()
    if not blocks or blocks[0].kind != "heading" or blocks[0].level != 1:
        raise ValueError(f"{path}: the first block must be the '# Title' heading")
    if blocks[0].text != meta["title"]:
        raise ValueError(f"{path}: '# {blocks[0].text}' differs from title '{meta['title']}'")
    return Source(path, meta["title"], meta["url"], meta["format"], blocks)


def build_docx(source: Source) -> None:
    """Write ``source`` as a Word document with real heading styles and tables."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = Pt(11)
    props = document.core_properties
    props.title = source.title
    props.author = AUTHOR
    props.subject = "Northbridge Supply Help Centre"
    props.identifier = source.url
    props.keywords = source.url
    props.created = props.modified = BUILD_DATE.replace(tzinfo=None)
    props.last_modified_by = AUTHOR
    props.revision = 1
    for block in source.blocks:
        if block.kind == "heading":
            document.add_heading(block.text, level=block.level)
        elif block.kind == "paragraph":
            document.add_paragraph(block.text)
        elif block.kind in ("bullets", "numbers"):
            style = "List Bullet" if block.kind == "bullets" else "List Number"
            for item in block.items:
                document.add_paragraph(item, style=style)
        elif block.kind == "table":
            header, *body = block.rows
            table = document.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header, strict=True):
                cell.text = ""
                cell.paragraphs[0].add_run(text).bold = True
            for row in body:
                cells = table.add_row().cells
                for cell, text in zip(cells, row, strict=True):
                    cell.text = text
            document.add_paragraph()
    footer = document.sections[0].footer.paragraphs[0]
    footer.text = FOOTER
    source.output.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(source.output))
    _fix_zip_times(source.output)


def _fix_zip_times(path: Path) -> None:
    """Give every member of a DOCX (a zip) the build date, so rebuilds are byte-identical."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    stamp = BUILD_DATE.timetuple()[:6]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            archive.writestr(fixed, data)


def latin1(text: str) -> str:
    """Make ``text`` drawable with the core PDF fonts, or fail loudly."""
    for char, replacement in PDF_REPLACEMENTS.items():
        text = text.replace(char, replacement)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as error:
        raise ValueError(f"cannot draw {text[error.start]!r} in a PDF core font: {text}") from None
    return text


def build_pdf(source: Source) -> None:
    """Write ``source`` as a PDF with extractable text, bold headings and an outline."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos
    from fpdf.fonts import FontFace

    class HelpPdf(FPDF):
        def footer(self) -> None:
            self.set_y(-14)
            self.set_font("Helvetica", size=8)
            self.set_text_color(100, 100, 100)
            self.cell(0, 5, f"{FOOTER} - page {self.page_no()}", align="C")

    pdf = HelpPdf(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(latin1(source.title))
    pdf.set_author(AUTHOR)
    pdf.set_subject("Northbridge Supply Help Centre")
    pdf.set_keywords(source.url)
    pdf.set_creator("scripts/build_docs.py")
    pdf.set_creation_date(BUILD_DATE)
    pdf.add_page()
    width = pdf.epw
    sizes = {1: 18, 2: 14, 3: 12}
    newline = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
    for block in source.blocks:
        if block.kind == "heading":
            size = sizes[block.level]
            if pdf.will_page_break(size * 2):
                pdf.add_page()
            pdf.ln(4 if block.level > 1 else 0)
            pdf.start_section(latin1(block.text), level=block.level - 1)
            pdf.set_font("Helvetica", "B", size)
            pdf.set_text_color(20, 50, 90)
            pdf.multi_cell(width, size * 0.5, latin1(block.text), **newline)
            pdf.set_text_color(0, 0, 0)
            pdf.ln(1.5)
        elif block.kind == "paragraph":
            pdf.set_font("Helvetica", size=10.5)
            pdf.multi_cell(width, 5.2, latin1(block.text), align="L", **newline)
            pdf.ln(2)
        elif block.kind in ("bullets", "numbers"):
            pdf.set_font("Helvetica", size=10.5)
            for index, item in enumerate(block.items, start=1):
                marker = "-" if block.kind == "bullets" else f"{index}."
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(6, 5.2, marker)
                pdf.multi_cell(width - 9, 5.2, latin1(item), align="L", **newline)
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif block.kind == "table":
            pdf.set_font("Helvetica", size=9.5)
            with pdf.table(
                text_align="LEFT",
                line_height=4.8,
                padding=1.2,
                headings_style=FontFace(emphasis="BOLD", fill_color=(226, 232, 240)),
            ) as table:
                for row in block.rows:
                    cells = table.row()
                    for text in row:
                        cells.cell(latin1(text))
            pdf.ln(3)
    source.output.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(source.output))


def main(argv: list[str] | None = None) -> int:
    """Build every source, or only those whose path contains one of the given words."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="build only sources whose path contains these")
    args = parser.parse_args(argv)
    sources = sorted(SOURCES.rglob("*.md"))
    if args.only:
        sources = [s for s in sources if any(word in str(s) for word in args.only)]
    for path in sources:
        source = parse(path)
        (build_pdf if source.fmt == "pdf" else build_docx)(source)
        print(f"{source.output.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

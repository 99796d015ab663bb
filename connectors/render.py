"""Text helpers shared by the channel renderers: finding links and splitting long messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A Markdown link "[label](https://...)" or a bare http(s) URL.
_LINK = re.compile(
    r"\[(?P<label>[^\]\n]{1,200})\]\((?P<target>https?://[^\s)]+)\)|(?P<bare>https?://[^\s<>\"']+)"
)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


@dataclass(frozen=True, slots=True)
class Link:
    """A link in bot text: ``label`` is what to show (the URL itself for a bare URL)."""

    url: str
    label: str


def split_links(text: str) -> list[str | Link]:
    """Split text into plain strings and Links, in order.

    Example:
        >>> split_links("See [Returns policy](https://nb.example/returns).")
        ['See ', Link(url='https://nb.example/returns', label='Returns policy'), '.']
    """
    parts: list[str | Link] = []
    last = 0
    for match in _LINK.finditer(text):
        if match.group("bare"):
            url = match.group("bare").rstrip(_TRAILING_PUNCTUATION)
            start, end = match.start(), match.start() + len(url)
            link = Link(url=url, label=url)
        else:
            start, end = match.span()
            link = Link(url=match.group("target"), label=match.group("label"))
        if start > last:
            parts.append(text[last:start])
        parts.append(link)
        last = end
    if last < len(text):
        parts.append(text[last:])
    return parts


def plain_with_urls(text: str) -> str:
    """Markdown links written out as "label (url)", for channels that link bare URLs."""
    return "".join(
        part if isinstance(part, str)
        else part.url if part.label == part.url
        else f"{part.label} ({part.url})"
        for part in split_links(text)
    )  # fmt: skip


def chunks(text: str, limit: int) -> list[str]:
    """Split text into pieces of at most ``limit`` characters, at line or word breaks if any."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces

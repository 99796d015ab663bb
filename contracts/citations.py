"""Citations: the sources of a document answer, sent beside its text as a custom message.

actions/documents.py sends the answer's text (which names each source and links to it) and
``{"citations": [{"title", "section", "url", "document"}]}``; Rasa passes the custom message
on as a reply of its own, and the gateway hands it unchanged to the clients that take custom
payloads (the REST API, the web chat) while the other channels show the text.

Example:
    >>> citations_message([Citation("policies/returns.md", "Returns", "Refunds", "/docs/…")])
    {'citations': [{'title': 'Returns', 'section': 'Refunds', 'url': '/docs/…', 'document': ...}]}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypedDict

# The key of the custom message that carries them.
CITATIONS = "citations"


class Cited(Protocol):
    """What a citation needs to be sent (retrieval.types.Citation is one)."""

    @property
    def title(self) -> str: ...

    @property
    def section(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def document(self) -> str: ...


class CitationJson(TypedDict):
    """One source: the document's title and section, its link, and its path in the
    documents folder (e.g. ``policies/returns.md``)."""

    title: str
    section: str
    url: str
    document: str


class CitationsMessage(TypedDict):
    """The custom message (``json_message``) that carries an answer's citations."""

    citations: list[CitationJson]


def citations_message(citations: Iterable[Cited]) -> CitationsMessage:
    """The custom message listing ``citations`` in order."""
    return {
        "citations": [
            {"title": c.title, "section": c.section, "url": c.url, "document": c.document}
            for c in citations
        ]
    }

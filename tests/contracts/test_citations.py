"""Citations: one object per source, in order, with the four keys the clients read."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.citations import citations_message


@dataclass(frozen=True)
class Source:
    document: str
    title: str
    section: str
    url: str


def test_citations_are_listed_in_order_with_their_four_keys() -> None:
    returns = Source("policies/returns.md", "Returns", "Refunds", "/docs/policies/returns.md")
    shipping = Source("policies/shipping.md", "Shipping", "Norway", "/docs/policies/shipping.md")

    message = citations_message([returns, shipping])

    assert message == {
        "citations": [
            {
                "title": "Returns",
                "section": "Refunds",
                "url": "/docs/policies/returns.md",
                "document": "policies/returns.md",
            },
            {
                "title": "Shipping",
                "section": "Norway",
                "url": "/docs/policies/shipping.md",
                "document": "policies/shipping.md",
            },
        ]
    }
    assert [list(c) for c in message["citations"]] == [["title", "section", "url", "document"]] * 2
    assert citations_message([]) == {"citations": []}

"""redact(): personal data never reaches the logs, business identifiers do; conversation ids
are logged as short stable tags."""

from __future__ import annotations

import pytest

from contracts.redaction import conversation_tag, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jo@example.com now", "mail [email] now"),
        ("first.last+tag@sub.example.co.uk", "[email]"),
        ("call +44 20 7946 0958", "call [phone]"),
        ("call (555) 123-4567", "call [phone]"),
        ("mobile 07700 900123", "mobile [phone]"),
        ("phone 555-1234", "phone [phone]"),
        ("+49 30 1234567", "[phone]"),
        ("ship to SW1A 1AA", "ship to [postcode]"),
        ("ship to ec1a1bb", "ship to [postcode]"),
        ("Ottawa K1A 0B1", "Ottawa [postcode]"),
        ("1012 AB Amsterdam", "[postcode] Amsterdam"),
        ("Austin, TX 78701", "Austin, [postcode]"),
        ("zip: 90210", "[postcode]"),
        ("Postcode 10115 Berlin", "[postcode] Berlin"),
        ("90210-1234", "[postcode]"),
    ],
    ids=[
        "email",
        "email-plus-tag-subdomain",
        "phone-international",
        "phone-us-parentheses",
        "phone-uk-mobile",
        "phone-local-7-digits",
        "phone-german",
        "postcode-uk",
        "postcode-uk-lowercase-no-space",
        "postcode-canada",
        "postcode-netherlands",
        "postcode-us-after-state",
        "postcode-after-zip-label",
        "postcode-after-postcode-label",
        "postcode-us-zip-plus-4",
    ],
)
def test_personal_data_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 12345 shipped 2024-05-01",
        "invoice INV-2024-000123",
        "order no 12345",
        "order 1234567",
        "qty 3 of SKU 100 at 12.50",
        "",
    ],
    ids=["order-and-iso-date", "invoice-number", "order-no", "bare-7-digits", "amounts", "empty"],
)
def test_business_identifiers_are_kept(text: str) -> None:
    assert redact(text) == text


def test_mixed_text_redacts_every_kind() -> None:
    text = "I'm jo@example.com, +1 (555) 123-4567, SW1A 1AA; order SO-1001"

    assert redact(text) == "I'm [email], [phone], [postcode]; order SO-1001"


@pytest.mark.parametrize(
    "conversation",
    ["web:q2Vx5P0Zt8Kx1lC3nX9yAw", "rest:local:jo@example.com", "telegram:-100123:42", "\ud800"],
    ids=["web-session-key", "rest-email", "telegram-group-person", "lone-surrogate"],
)
def test_conversation_tags_are_short_stable_and_reveal_nothing(conversation: str) -> None:
    tag = conversation_tag(conversation)

    assert tag == conversation_tag(conversation) and len(tag) == 12 and tag.startswith("c-")
    assert not any(part in tag for part in conversation.split(":") if len(part) > 2)
    assert conversation_tag(conversation + "x") != tag

"""Parsing what customers type: order and invoice numbers, SKUs, emails and postcodes."""

from __future__ import annotations

import pytest

from erp.errors import InvalidIdentifier
from erp.ids import (
    find_identity,
    looks_like_email,
    normalise_email,
    normalise_postcode,
    parse_invoice_number,
    parse_order_number,
    parse_sku,
)

ORDER_INPUTS = [
    ("SO-100123", "SO-100123"),
    ("so100123", "SO-100123"),
    ("so 100123", "SO-100123"),
    ("#100123", "SO-100123"),
    ("100123", "SO-100123"),
    ("  SO-100123  ", "SO-100123"),
    ("order 100123", "SO-100123"),
    ("Hi, where is my order #100123 please?", "SO-100123"),
    ("order number: 100123, placed 2026-10-01", "SO-100123"),
    ("１００１２３", "SO-100123"),
    ("SO-199999", "SO-199999"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    ORDER_INPUTS,
    ids=[
        "canonical",
        "lower-no-dash",
        "space",
        "hash",
        "digits",
        "padded",
        "order-word",
        "sentence",
        "with-date",
        "fullwidth",
        "top-of-range",
    ],
)
def test_order_numbers_are_found(text: str, expected: str) -> None:
    assert parse_order_number(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SO-12", "it has 2 digits where 6 are needed"),
        ("SO-1001234", "it has 7 digits"),
        ("SO-12A456", "mixes letters"),
        ("abc100123", "mixes letters"),
        ("SO-300123", "run from SO-100000 to SO-199999"),
        ("INV-200123", "looks like an invoice number"),
        ("200123", "looks like an invoice number"),
        ("100123 or 100124", "mentions several"),
        ("", "please type an order number"),
        ("   ", "please type an order number"),
        ("where is my order?", "contains no number"),
        ("🦄📦", "contains no number"),
        ("1; DROP TABLE customers", "cannot be in one"),
        ("100123; DROP TABLE customers", "cannot be in one"),
        ("x" * 10_000, "too long"),
        ("\x00\u202e100", "it has 3 digits"),
    ],
    ids=[
        "too-short",
        "too-long-number",
        "letters-inside",
        "letters-before",
        "out-of-range",
        "invoice-number",
        "invoice-digits",
        "two-numbers",
        "empty",
        "blank",
        "no-number",
        "emoji",
        "injection",
        "injection-after-number",
        "10k-chars",
        "control-chars",
    ],
)
def test_bad_order_numbers_explain_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_order_number(text)
    assert reason in str(error.value)
    assert error.value.value == text
    assert len(str(error.value)) < 200


def test_order_error_reads_well_in_a_reply() -> None:
    with pytest.raises(InvalidIdentifier) as error:
        parse_order_number("SO-12")
    assert str(error.value) == (
        "'SO-12' is not an order number: it has 2 digits where 6 are needed; "
        "order numbers look like SO-100123"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INV-200123", "INV-200123"),
        ("inv200123", "INV-200123"),
        ("invoice #200123", "INV-200123"),
        ("200123", "INV-200123"),
        ("Can you check invoice 200123?", "INV-200123"),
    ],
    ids=["canonical", "lower-no-dash", "invoice-hash", "digits", "sentence"],
)
def test_invoice_numbers_are_found(text: str, expected: str) -> None:
    assert parse_invoice_number(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("INV-20012", "it has 5 digits"),
        ("SO-100123", "looks like an order number"),
        ("INV-300000", "run from INV-200000 to INV-299999"),
        ("", "please type an invoice number"),
        ("' OR 1=1 --", "cannot be in one"),
        ("🧾" * 300, "too long"),
    ],
    ids=["short", "order-number", "out-of-range", "empty", "injection", "long-emoji"],
)
def test_bad_invoice_numbers_explain_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        parse_invoice_number(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("WID-1001", "WID-1001"), ("wid1001", "WID-1001"), (" ctl 1001 ", "CTL-1001")],
    ids=["canonical", "lower-no-dash", "spaced"],
)
def test_skus_are_normalised(text: str, expected: str) -> None:
    assert parse_sku(text) == expected


@pytest.mark.parametrize(
    "text",
    ["WIDGET", "WI-1001", "WID-10010", "", "🦄"],
    ids=["word", "two-letters", "five-digits", "empty", "emoji"],
)
def test_bad_skus_are_rejected(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_sku(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Anna.Fischer@Example.DE", "anna.fischer@example.de"),
        ("  orders@pennine-engineering.co.uk ", "orders@pennine-engineering.co.uk"),
        ("first+tag@sub.example.com", "first+tag@sub.example.com"),
    ],
    ids=["mixed-case", "padded", "plus-and-subdomain"],
)
def test_emails_are_normalised(text: str, expected: str) -> None:
    assert normalise_email(text) == expected
    assert looks_like_email(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "anna",
        "anna@",
        "@example.com",
        "anna@example",
        "a b@example.com",
        "anna@@example.com",
        "ánna@exämple.de",
        "x" * 300 + "@example.com",
        "'; DROP TABLE customers; --@x.com",
    ],
    ids=[
        "empty",
        "no-at",
        "no-domain",
        "no-local",
        "no-tld",
        "space",
        "double-at",
        "unicode",
        "too-long",
        "injection",
    ],
)
def test_bad_emails_are_rejected(text: str) -> None:
    assert not looks_like_email(text)
    with pytest.raises(InvalidIdentifier, match="is not an email address"):
        normalise_email(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("m1 1ae", "M1 1AE"),
        ("  sw1a   1aa ", "SW1A 1AA"),
        ("1012ab", "1012AB"),
        ("1012 ab", "1012 AB"),
        ("04109", "04109"),
        ("SW1A  1AA", "SW1A 1AA"),
        ("sw1a\t1aa", "SW1A 1AA"),
        ("SW1A\u00a01AA", "SW1A 1AA"),
        ("1012\u2009\u2009AB", "1012 AB"),
    ],
    ids=["uk", "uk-spaces", "nl-compact", "nl", "de", "two-spaces", "tab", "nbsp", "thin-spaces"],
)
def test_postcodes_are_normalised(text: str, expected: str) -> None:
    assert normalise_postcode(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "M1", "HELLO", "M1 1 AE", "ABCDEFGHIJK1", "M1-1AE", "🏠", "1; DROP TABLE x"],
    ids=["empty", "too-short", "no-digit", "two-spaces", "too-long", "dash", "emoji", "injection"],
)
def test_bad_postcodes_are_rejected(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalise_postcode(text)


def test_non_text_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be text, got int"):
        parse_order_number(100123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("my email is Bob@Firm.de thanks", "bob@firm.de"),
        ("sure, my postcode is m1 4bt", "m1 4bt"),
        ("postcode 1012AB", "1012AB"),
        ("it's 10115", "10115"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("order SO-100123", "order SO-100123"),
        ("no idea", "no idea"),
        ("SW1A  1AA", "SW1A 1AA"),
        ("sw1a\t1aa", "sw1a 1aa"),
        ("my postcode is SW1A\u00a0\u00a01AA.", "SW1A 1AA"),
        ("it's 1012   AB", "1012 AB"),
    ],
    ids=[
        "email-in-sentence",
        "uk-in-sentence",
        "nl-compact",
        "de",
        "bare-uk",
        "no-5-digits-in-6",
        "none",
        "uk-two-spaces",
        "uk-tab",
        "uk-nbsp-in-sentence",
        "nl-three-spaces",
    ],
)
def test_find_identity_picks_the_email_or_postcode(typed: str, found: str) -> None:
    assert find_identity(typed) == found

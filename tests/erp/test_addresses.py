"""Delivery addresses as customers type them: countries the company delivers to, postcodes in
each country's format, street lines."""

from __future__ import annotations

import pytest

from erp.addresses import normalise_postcode_for, normalise_street, parse_country
from erp.errors import InvalidIdentifier

DELIVERS_TO = ("GB", "NL", "DE")


@pytest.mark.parametrize(
    ("typed", "code"),
    [("UK", "GB"), ("to the Netherlands please", "NL"), ("Deutschland", "DE"), ("holland", "NL")],
)
def test_countries_by_any_name(typed: str, code: str) -> None:
    assert parse_country(typed, DELIVERS_TO) == code


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("France", "we deliver to the United Kingdom, the Netherlands, Germany only"),
     ("somewhere", "please name one of"), ("x'; DROP TABLE orders; --", "cannot be in one")],
)  # fmt: skip
def test_other_countries_are_refused_with_where_we_deliver(typed: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier, match=reason):
        parse_country(typed, DELIVERS_TO)


@pytest.mark.parametrize(
    ("typed", "country", "expected"),
    [("m14bt", "GB", "M1 4BT"), ("sw1a 1aa", "GB", "SW1A 1AA"), ("1012ab", "NL", "1012 AB"),
     ("10115", "DE", "10115")],
)  # fmt: skip
def test_postcodes_in_their_countrys_format(typed: str, country: str, expected: str) -> None:
    assert normalise_postcode_for(typed, country) == expected


@pytest.mark.parametrize(("typed", "country"), [("10115", "NL"), ("1012 AB", "GB"), ("M1", "GB")])
def test_a_postcode_of_another_format_is_refused_with_an_example(typed: str, country: str) -> None:
    with pytest.raises(InvalidIdentifier, match="look like"):
        normalise_postcode_for(typed, country)


def test_street_lines() -> None:
    assert normalise_street("  12   High Street,  Manchester ") == "12 High Street, Manchester"
    for bad in ("12", "x" * 200, "🙂🙂🙂🙂🙂🙂", "12345 67890"):
        with pytest.raises(InvalidIdentifier):
            normalise_street(bad)

"""Delivery addresses as customers type them: a street line with the town, a postcode in the
format of the country it is in, and that country (one of those the company delivers to).

Example:
    >>> parse_country("the Netherlands", ("GB", "NL", "DE"))
    'NL'
    >>> normalise_postcode_for("m1 4bt", "GB")
    'M1 4BT'
    >>> normalise_postcode_for("10115", "NL")
    Traceback (most recent call last):
    erp.errors.InvalidIdentifier: '10115' is not a postcode in the Netherlands: ...
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from erp.errors import InvalidIdentifier
from erp.ids import clean_input

MAX_STREET_CHARS = 120
MIN_STREET_CHARS = 5


@dataclass(frozen=True)
class Country:
    """A country's code, the names customers use for it and its postcode format."""

    code: str
    name: str
    names: tuple[str, ...]
    postcode: re.Pattern[str]
    example: str

    def normalise(self, postcode: str) -> str | None:
        """The postcode written the country's way, or None when it is not one there."""
        compact = re.sub(r"[\s\-]", "", postcode.upper())
        match = self.postcode.fullmatch(compact)
        if match is None:
            return None
        return " ".join(part for part in match.groups() if part) if match.groups() else compact


COUNTRIES = {
    c.code: c
    for c in (
        Country("GB", "the United Kingdom", ("gb", "uk", "united kingdom", "great britain",
                "britain", "england", "scotland", "wales", "northern ireland"),
                re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})"), "M1 4BT"),
        Country("NL", "the Netherlands", ("nl", "netherlands", "the netherlands", "holland",
                "nederland"), re.compile(r"([1-9][0-9]{3})([A-Z]{2})"), "1012 AB"),
        Country("DE", "Germany", ("de", "germany", "deutschland"),
                re.compile(r"([0-9]{5})"), "10115"),
        Country("BE", "Belgium", ("be", "belgium", "belgie", "belgique"),
                re.compile(r"([1-9][0-9]{3})"), "1000"),
        Country("FR", "France", ("fr", "france"), re.compile(r"([0-9]{5})"), "75001"),
        Country("IE", "Ireland", ("ie", "ireland", "eire"),
                re.compile(r"([AC-FHKNPRTV-Y][0-9]{2}|D6W)([0-9AC-FHKNPRTV-Y]{4})"), "D02 X285"),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Address:
    """A delivery address: street line (with the town), postcode, country code."""

    street: str
    postcode: str
    country: str

    def __str__(self) -> str:
        return f"{self.street}, {self.postcode}, {COUNTRIES[self.country].name}"


def parse_country(text: str, delivers_to: tuple[str, ...]) -> str:
    """The code of the country named in ``text``, if the company delivers there.

    Raises:
        InvalidIdentifier: no country named, or one the company does not deliver to.
    """
    cleaned = _folded(clean_input(text, "country"))
    words = f" {re.sub(r'[^a-z ]+', ' ', cleaned)} "
    found = [
        code
        for code, country in COUNTRIES.items()
        if any(f" {name} " in words for name in country.names)
    ]
    allowed = [code for code in found if code in delivers_to]
    if len(allowed) == 1:
        return allowed[0]
    names = ", ".join(COUNTRIES[c].name for c in delivers_to if c in COUNTRIES)
    if found and not allowed:
        return _refuse("country", text, f"we deliver to {names} only")
    return _refuse("country", text, f"please name one of {names}")


def normalise_postcode_for(text: str, country: str) -> str:
    """The postcode written the way ``country`` writes it.

    Raises:
        InvalidIdentifier: not a postcode of that country (the reason shows an example).
    """
    known = COUNTRIES[country]
    found = known.normalise(clean_input(text, "postcode"))
    if found is None:
        return _refuse(
            f"postcode in {known.name}", text, f"postcodes there look like {known.example}"
        )
    return found


def normalise_street(text: str) -> str:
    """A street line with the town ("12 High Street, Manchester"), spaces tidied.

    Raises:
        InvalidIdentifier: too short or long, no letters, or characters no address has.
    """
    cleaned = " ".join(clean_input(text, "street address").split())
    if not MIN_STREET_CHARS <= len(cleaned) <= MAX_STREET_CHARS:
        return _refuse(
            "street address", text, f"it should be {MIN_STREET_CHARS} to {MAX_STREET_CHARS} "
            "characters, like 12 High Street, Manchester",
        )  # fmt: skip
    if not any(c.isalpha() for c in cleaned) or any(
        unicodedata.category(c)[0] in ("C", "S") and c not in "&/+" for c in cleaned
    ):
        return _refuse(
            "street address",
            text,
            "it should be a street and a town, like 12 High Street, Manchester",
        )
    return cleaned


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _refuse(kind: str, text: str, reason: str) -> str:
    raise InvalidIdentifier(kind, text, reason)

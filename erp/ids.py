"""Parsing of identifiers customers type: order and invoice numbers, SKUs, emails, postcodes."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from erp.errors import InvalidIdentifier

MAX_INPUT_CHARS = 200

# A run of digits with the word or symbol right before it; ASCII only, so odd unicode
# never counts as a digit or a letter.
_NUMBER_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])(?:(?P<prefix>[A-Za-z]+)(?P<sep>[ \t\-_#:.]{0,3}))?"
    r"(?P<hash>#?)(?P<digits>[0-9]+)(?P<tail>[A-Za-z0-9]*)",
    re.ASCII,
)
_SQL_LIKE = re.compile(
    r";|--|/\*|\*/|\bunion\s+select\b|\bdrop\s+table\b|\bor\s+1\s*=\s*1\b|'\s*or\s+'",
    re.IGNORECASE,
)
_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    re.ASCII,
)
_POSTCODE = re.compile(r"[A-Z0-9]+(?: [A-Z0-9]+)?", re.ASCII)
_SKU = re.compile(r"([A-Z]{3})[ \-_]?([0-9]{4})", re.ASCII)


@dataclass(frozen=True)
class _NumberScheme:
    """How one kind of document number looks, e.g. ``SO-`` and six digits from 100000."""

    kind: str
    prefix: str
    low: int
    high: int
    attached_prefixes: frozenset[str]

    @property
    def example(self) -> str:
        return f"{self.prefix}-{self.low + 123}"

    def format(self, number: int) -> str:
        return f"{self.prefix}-{number}"


ORDER_NUMBERS = _NumberScheme(
    kind="order number",
    prefix="SO",
    low=100000,
    high=199999,
    attached_prefixes=frozenset({"so", "order"}),
)
INVOICE_NUMBERS = _NumberScheme(
    kind="invoice number",
    prefix="INV",
    low=200000,
    high=299999,
    attached_prefixes=frozenset({"inv", "invoice"}),
)
_SCHEMES = (ORDER_NUMBERS, INVOICE_NUMBERS)
_DIGITS = 6


def _clean(text: str, kind: str) -> str:
    """Normalise unicode and reject text that is empty, too long or looks like SQL."""
    if not isinstance(text, str):
        raise TypeError(f"{kind} must be text, got {type(text).__name__}")
    if len(text) > MAX_INPUT_CHARS:
        raise InvalidIdentifier(
            kind, text, f"the text is too long ({len(text)} characters, at most {MAX_INPUT_CHARS})"
        )
    cleaned = unicodedata.normalize("NFKC", text).strip()
    if not cleaned:
        raise InvalidIdentifier(kind, text, f"please type {_article(kind)} {kind}")
    if _SQL_LIKE.search(cleaned):
        raise InvalidIdentifier(kind, text, "it contains characters that cannot be in one")
    return cleaned


def clean_input(text: str, kind: str) -> str:
    """``text`` in unicode normal form and stripped, once it is known not to be empty, too
    long or shaped like SQL.

    Raises:
        InvalidIdentifier: why it cannot be ``kind`` (e.g. "order number").
    """
    return _clean(text, kind)


def _article(kind: str) -> str:
    return "an" if kind[:1] in ("a", "e", "i", "o", "u") else "a"


def _parse_number(text: str, scheme: _NumberScheme) -> str:
    """Find the one document number of ``scheme`` in ``text``, or explain why there is none."""
    cleaned = _clean(text, scheme.kind)
    looks = f"{scheme.kind}s look like {scheme.example}"
    found: set[int] = set()
    wrong_length: list[str] = []
    out_of_range: list[int] = []
    other_kinds: list[str] = []
    mixed = False
    for match in _NUMBER_TOKEN.finditer(cleaned):
        prefix = (match["prefix"] or "").lower()
        digits = match["digits"]
        attached = bool(prefix) and not match["sep"] and not match["hash"]
        if match["tail"] or (attached and prefix not in scheme.attached_prefixes):
            mixed = True
            continue
        other = next(
            (s for s in _SCHEMES if s is not scheme and prefix in s.attached_prefixes), None
        )
        if other is not None:
            other_kinds.append(other.kind)
            continue
        if len(digits) != _DIGITS:
            wrong_length.append(digits)
            continue
        number = int(digits)
        if scheme.low <= number <= scheme.high:
            found.add(number)
        else:
            out_of_range.append(number)
    if len(found) == 1:
        return scheme.format(found.pop())
    if found:
        shown = ", ".join(scheme.format(n) for n in sorted(found))
        raise InvalidIdentifier(scheme.kind, text, f"it mentions several ({shown}); pick one")
    for other in _SCHEMES:
        if other is not scheme and (
            other.kind in other_kinds or any(other.low <= n <= other.high for n in out_of_range)
        ):
            raise InvalidIdentifier(
                scheme.kind, text, f"that looks like {_article(other.kind)} {other.kind}; {looks}"
            )
    if out_of_range:
        raise InvalidIdentifier(
            scheme.kind,
            text,
            f"{scheme.kind}s run from {scheme.format(scheme.low)} to {scheme.format(scheme.high)}",
        )
    if wrong_length:
        count = len(wrong_length[0])
        unit = "digit" if count == 1 else "digits"
        raise InvalidIdentifier(
            scheme.kind, text, f"it has {count} {unit} where {_DIGITS} are needed; {looks}"
        )
    if mixed:
        raise InvalidIdentifier(scheme.kind, text, f"it mixes letters into the number; {looks}")
    raise InvalidIdentifier(scheme.kind, text, f"it contains no number; {looks}")


def parse_order_number(text: str) -> str:
    """Extract a sales order number from what a customer typed.

    Accepts ``SO-100123``, ``so100123``, ``so 100123``, ``#100123``, ``100123`` and the same
    inside a sentence ("where is order 100123?").

    Example:
        >>> parse_order_number("hi, where is my order #100123?")
        'SO-100123'

    Args:
        text: Free text from the user.

    Returns:
        The canonical order number, ``SO-`` and six digits.

    Raises:
        InvalidIdentifier: No single valid order number is in the text; the message says why.
    """
    return _parse_number(text, ORDER_NUMBERS)


def parse_invoice_number(text: str) -> str:
    """Extract an invoice number from what a customer typed.

    Accepts ``INV-200123``, ``inv200123``, ``invoice #200123``, ``200123`` and the same inside
    a sentence.

    Args:
        text: Free text from the user.

    Returns:
        The canonical invoice number, ``INV-`` and six digits.

    Raises:
        InvalidIdentifier: No single valid invoice number is in the text; the message says why.
    """
    return _parse_number(text, INVOICE_NUMBERS)


def parse_sku(text: str) -> str:
    """Normalise a product code such as ``wid1001`` or ``WID 1001`` to ``WID-1001``.

    Raises:
        InvalidIdentifier: The text is not three letters and four digits.
    """
    cleaned = _clean(text, "product code").upper()
    match = _SKU.fullmatch(cleaned)
    if match is None:
        raise InvalidIdentifier(
            "product code", text, "product codes are three letters and four digits, like WID-1001"
        )
    return f"{match[1]}-{match[2]}"


def normalise_email(text: str) -> str:
    """Strip and lower-case an email address after checking its shape.

    Args:
        text: An email address as typed.

    Returns:
        The address in lower case.

    Raises:
        InvalidIdentifier: The text is not shaped like ``name@example.com``.
    """
    cleaned = _clean(text, "email address").lower()
    if len(cleaned) > 254 or not _EMAIL.fullmatch(cleaned):
        raise InvalidIdentifier("email address", text, "email addresses look like name@example.com")
    return cleaned


def looks_like_email(text: str) -> bool:
    """Return True when ``text`` is a plausible email address (never raises)."""
    try:
        normalise_email(text)
    except (InvalidIdentifier, TypeError):
        return False
    return True


def normalise_postcode(text: str) -> str:
    """Upper-case a postcode and collapse its spaces: ``" m1  1ae "`` becomes ``"M1 1AE"``.

    Args:
        text: A UK, Dutch or German style postcode as typed.

    Returns:
        The postcode in upper case with at most one space.

    Raises:
        InvalidIdentifier: Not 3-10 letters and digits (with at least one digit) and at most
            one space.
    """
    cleaned = " ".join(_clean(text, "postcode").upper().split())
    compact = cleaned.replace(" ", "")
    if (
        not _POSTCODE.fullmatch(cleaned)
        or not 3 <= len(compact) <= 10
        or not any(c.isdigit() for c in compact)
    ):
        raise InvalidIdentifier(
            "postcode", text, "postcodes are 3 to 10 letters and digits, like M1 1AE or 1012 AB"
        )
    return cleaned


def compact_postcode(text: str) -> str:
    """Return a normalised postcode without spaces, for comparisons that ignore spacing."""
    return normalise_postcode(text).replace(" ", "")


# UK (M1 4BT, SW1A 1AA), Dutch (1012 AB) and German (10115) postcodes inside a sentence.
# Any run of spaces or tabs may split the two halves: people type "SW1A  1AA" too.
_POSTCODE_IN_TEXT = re.compile(
    r"(?<![A-Za-z0-9])"
    r"(?:[A-Z]{1,2}[0-9][A-Z0-9]?[ \t]*[0-9][A-Z]{2}|[1-9][0-9]{3}[ \t]*[A-Z]{2}|[0-9]{5})"
    r"(?![A-Za-z0-9])",
    re.ASCII | re.IGNORECASE,
)


def postcode_in_text(text: str) -> tuple[int, str] | None:
    """Where a UK, Dutch or German postcode starts in a sentence, and the postcode with its
    spaces collapsed to one; None when there is none."""
    found = _POSTCODE_IN_TEXT.search(text)
    return None if found is None else (found.start(), " ".join(found.group(0).split()))


def extract_identity(text: str) -> str | None:
    """Pick the email address or postcode out of a sentence a customer typed.

    Example:
        >>> extract_identity("sure, my postcode is m1 4bt")
        'm1 4bt'

    Returns:
        The first email address found, else the first postcode-shaped part with its spaces
        collapsed to one, else None.
    """
    if not isinstance(text, str) or len(text) > MAX_INPUT_CHARS:
        return None
    # NFKC turns non-breaking, thin and full-width spaces into plain ones.
    text = unicodedata.normalize("NFKC", text)
    email = _EMAIL.search(text.lower())
    if email is not None:
        return email.group(0)
    postcode = _POSTCODE_IN_TEXT.search(text)
    return " ".join(postcode.group(0).split()) if postcode is not None else None


def find_identity(text: str) -> str:
    """Like :func:`extract_identity`, but returns ``text`` unchanged when nothing is found,
    so an unrecognised answer still gets checked (and refused) as typed."""
    return extract_identity(text) or text

"""Customer identification: matching what a user typed against a customer's identity factors.

The factors are the mapping's (erp/schema.py): the demo ERP's email and postcode, or e.g.
postcode and phone number for an ERP without emails. Emails compare case-insensitively,
postcodes ignoring case and spaces, phone numbers by their digits, customer numbers
ignoring case and surrounding spaces. Text that is not a valid value of a factor never
matches it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import String, cast, func
from sqlalchemy.orm import Session

from erp.access import CustomerKey
from erp.errors import InvalidIdentifier
from erp.ids import MAX_INPUT_CHARS, looks_like_email, normalise_email, postcode_in_text
from erp.mapping.spec import MappingSpec
from erp.schema import MappedSchema, schema_for

# Fewer digits than this is not a phone number anyone could be identified by.
MIN_PHONE_DIGITS = 6
# Postcodes the world over: 3-10 letters and digits, at least one digit, once the spaces and
# dashes that some countries write (05432-043, S-958 22, H1J 1C3) are taken out.
_POSTCODE_CHARS = re.compile(r"[A-Z0-9]{3,10}", re.ASCII)
_POSTCODE_ALONE = re.compile(r"[A-Za-z0-9]+(?:[ \-][A-Za-z0-9]+){0,2}", re.ASCII)
_PHONE_IN_TEXT = re.compile(r"\+?\(?[0-9][0-9 ().\-/]{4,}[0-9]", re.ASCII)
# Words people put before the value itself: "my postcode is", "zip:", "it's".
_LEAD_IN = re.compile(
    r"^(?:(?:my|our|the|it'?s|it\s+is|is|post\s*code|postal\s*code|zip(?:\s*code)?|"
    r"phone(?:\s*number)?|customer\s*number|number|e-?mail(?:\s*address)?)\b[\s:,=-]*)+",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_.]*", re.ASCII)


def _normalised(factor: str, value: Any) -> str | None:
    """``value`` in the form a factor compares in, or None when it cannot be one."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    try:
        if factor == "email":
            return normalise_email(text) if looks_like_email(text) else None
        if factor == "postcode":
            compact = re.sub(r"[\s\-]", "", text).upper()
            fits = _POSTCODE_CHARS.fullmatch(compact) and any(c.isdigit() for c in compact)
            return compact if fits else None
        if factor == "phone":
            digits = re.sub(r"\D", "", text)
            return digits if len(digits) >= MIN_PHONE_DIGITS else None
        return text.casefold() or None
    except (InvalidIdentifier, TypeError):
        return None


def factor_matches(factor: str, typed: Any, stored: Any) -> bool:
    """Whether ``typed`` is the stored value of one factor (email, postcode, phone, number)."""
    wanted = _normalised(factor, typed)
    return wanted is not None and wanted == _normalised(factor, stored)


def typed_factors(text: str, spec: MappingSpec) -> dict[str, str]:
    """What a customer typed as one identity, as the value of each factor it could be.

    A message holds one guess: the factor value that starts first in it ("my phone is
    030-0074321" is a phone number; "51100" alone may be a postcode, or a phone number where
    it has enough digits, and is then tried as both). So one message can never try several
    values, whatever it holds.

    Example:
        >>> typed_factors("it's 030-0074321, thanks", northwind_spec)
        {'phone': '030-0074321'}
    """
    if not isinstance(text, str) or len(text) > MAX_INPUT_CHARS:
        return {}
    text = unicodedata.normalize("NFKC", text).strip()
    found: dict[str, tuple[int, str]] = {}
    for factor in spec.identity:
        located = _locate(factor, text, spec)
        if located is not None and _normalised(factor, located[1]) is not None:
            found[factor] = located
    if not found:
        return {}
    first = min(start for start, _ in found.values())
    return {factor: value for factor, (start, value) in found.items() if start == first}


def factor_value(factor: str, text: str, spec: MappingSpec) -> str | None:
    """The value of one factor in what a customer typed ("my postcode is 51100" -> "51100"),
    or None when there is none: an email address in lower case, others as typed."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_CHARS:
        return None
    located = _locate(factor, unicodedata.normalize("NFKC", text).strip(), spec)
    if located is None or _normalised(factor, located[1]) is None:
        return None
    return located[1].lower() if factor == "email" else located[1]


def _locate(factor: str, text: str, spec: MappingSpec) -> tuple[int, str] | None:
    """Where a value of ``factor`` starts in ``text``, and the value."""
    lead_in = _LEAD_IN.match(text)
    start = lead_in.end() if lead_in else 0
    bare = text[start:].rstrip(".!?,;").strip()
    if factor == "email":
        email = re.search(r"[^\s@<>(),;:]+@[^\s@<>(),;:]+", text)
        return (email.start(), email.group(0).rstrip(".")) if email else None
    if factor == "phone":
        phone = _PHONE_IN_TEXT.search(text)
        return (phone.start(), phone.group(0)) if phone else None
    if factor == "postcode":
        if _POSTCODE_ALONE.fullmatch(bare) and len(bare) <= 12:
            return start, bare
        postcode = postcode_in_text(text)
        return postcode
    # A customer number: the whole answer, or the word of the ERP's customer id format.
    if _WORD.fullmatch(bare):
        return start, bare
    id_format = spec.ids.get("customer")
    if id_format is None:
        return None
    for word in _WORD.finditer(text):
        if id_format.pattern.fullmatch(word.group(0)):
            return word.start(), word.group(0)
    return None


def matched_factor(
    customer_id: CustomerKey | None, typed: Mapping[str, str], *, session: Session
) -> str | None:
    """The identity factor of this customer that one of ``typed``'s values is, or None.

    ``typed`` maps factors to values, e.g. :func:`typed_factors` of a message. None also
    when the customer does not exist (callers pass the owner of a record that may not
    exist) and for values that are not valid values of the ERP's factors.
    """
    schema = schema_for(session)
    customer = _customer(schema, customer_id, session)
    if customer is None:
        return None
    for factor, value in typed.items():
        if factor in schema.spec.identity and factor_matches(factor, value, customer.get(factor)):
            return factor
    return None


def _customer(schema: MappedSchema, customer_id: Any, session: Session) -> Mapping[str, Any] | None:
    if customer_id is None:
        return None
    row = session.execute(
        schema.select("customer", "key", *schema.spec.identity).where(
            schema.c("customer", "key") == customer_id
        )
    ).first()
    return None if row is None else dict(row._mapping)


def verify_customer(*, email: str, postcode: str, session: Session) -> CustomerKey | None:
    """Return the id of the customer with both this email and this postcode.

    Args:
        email: Email address as typed (any case, surrounding spaces allowed).
        postcode: Postcode as typed (any case and spacing).
        session: Open database session.

    Returns:
        The customer's id, or None when no customer has both (including malformed input,
        and an ERP whose identity factors are not email and postcode).
    """
    return find_customer({"email": email, "postcode": postcode}, session=session)


def find_customer(typed: Mapping[str, str], *, session: Session) -> Any:
    """Return the key of the one customer whose identity factors are all ``typed``.

    ``typed`` maps each of the mapping's two identity factors to what the user typed; None
    when a factor is missing or wrong, or when more than one customer would match.
    """
    schema = schema_for(session)
    factors = schema.spec.identity
    if any(_normalised(factor, typed.get(factor)) is None for factor in factors):
        return None
    first = factors[0]
    candidates = session.execute(
        schema.select("customer", "key", *factors).where(_narrowed(schema, first, typed[first]))
    ).all()
    found = [
        row.key
        for row in candidates
        if all(factor_matches(f, typed[f], row._mapping[f]) for f in factors)
    ]
    return found[0] if len(found) == 1 else None


def _narrowed(schema: MappedSchema, factor: str, typed: str) -> Any:
    """A WHERE clause that finds the rows one factor may match, in the database."""
    column = schema.c("customer", factor)
    wanted = _normalised(factor, typed)
    if factor == "email":
        return func.lower(column) == wanted
    if factor == "postcode":
        return func.upper(func.replace(func.replace(column, " ", ""), "-", "")) == wanted
    if factor == "phone":
        # Formats differ (spaces, dashes, brackets): match the last digits, check in Python.
        assert wanted is not None
        return column.contains(wanted[-4:])
    return func.lower(func.trim(cast(column, String))) == wanted


def customer_has(customer_id: CustomerKey, *, session: Session, **typed: str | None) -> bool:
    """Return True when the customer exists and has every factor given (``email=``,
    ``postcode=``, ``phone=``, ``number=``).

    For a conversation that proved one factor of a customer and now gives another: the new
    factor must belong to that same customer.

    Example:
        >>> customer_has(42, email="Jane@Example.com", session=session)
        True

    Returns:
        False when nothing is given, the customer does not exist, any given factor is
        someone else's or not one of this ERP's factors, or a factor is malformed.
    """
    given = {f: v for f, v in typed.items() if v is not None}
    if not given:
        return False
    schema = schema_for(session)
    if any(factor not in schema.spec.identity for factor in given):
        return False
    customer = _customer(schema, customer_id, session)
    if customer is None:
        return False
    return all(factor_matches(f, value, customer.get(f)) for f, value in given.items())


def customer_id_for_email(email: str, *, session: Session) -> CustomerKey | None:
    """Return the id of the customer with this email (any case), or None.

    Only for callers that may look up any customer (staff); customers verify with
    :func:`verify_customer`. None when the ERP keeps no email addresses.
    """
    schema = schema_for(session)
    address = _normalised("email", email)
    if address is None or not schema.has("customer", "email"):
        return None
    keys = session.scalars(
        schema.select("customer", "key").where(func.lower(schema.c("customer", "email")) == address)
    ).all()
    return keys[0] if len(keys) == 1 else None


def customer_id_for_number(number: str, *, session: Session) -> CustomerKey | None:
    """Return the key of the customer with this customer number (any case), or None.

    Only for callers that may look up any customer (staff), in an ERP whose customers have
    no email address.
    """
    schema = schema_for(session)
    wanted = _normalised("number", number)
    if wanted is None:
        return None
    column = schema.c("customer", schema.number_field("customer"))
    keys = session.scalars(
        schema.select("customer", "key")
        .where(func.lower(func.trim(cast(column, String))) == wanted)
        .limit(2)
    ).all()
    return keys[0] if len(keys) == 1 else None


def id_if_identity_matches(
    customer_id: CustomerKey | None, identity: str, *, session: Session
) -> CustomerKey | None:
    """Return ``customer_id`` when ``identity`` is exactly one of that customer's factors
    (compared as each factor compares), else None.

    None in, None out: callers pass the owner of a record that may not exist, and get the same
    answer for "no such record" as for "wrong identity".
    """
    typed = {factor: identity for factor in schema_for(session).spec.identity}
    if matched_factor(customer_id, typed, session=session) is None:
        return None
    return customer_id

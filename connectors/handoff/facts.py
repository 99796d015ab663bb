"""What a handoff tells an agent about the customer: verified facts, and numbers marked unverified.

An agent reads the handoff and may answer from it, so nothing in it may look verified unless
the conversation proved it. The proof is the signed verification record the action server
keeps in the tracker slot ``verification`` (`erp.access`): the gateway decodes it with the
shared secret for this conversation and never trusts a plain ``verified_customer_id`` slot,
which a user can set (``/intent{"verified_customer_id": 7}``). Every order or invoice number
that record does not cover is kept only as "NOT verified: do not disclose".

``handoff_slots`` turns what escalated the conversation into the one shape a handoff
stores (``Handoff.slots``); ``context_facts`` turns that into the lines the summary, the
console and Slack show.

Example:
    >>> slots = handoff_slots({"order_number": "SO-100999"}, conversation_id="web:a",
    ...                       source="tracker", secret=b"k" * 32, now=0.0)
    >>> [fact.text for fact in context_facts(slots)]
    ['order SO-100999 (NOT verified: do not disclose)']
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

logger = logging.getLogger("connectors")

# The stored shape (``Handoff.slots``); the action server's handoff payload uses it too.
CUSTOMER = "verified_customer_id"
RECORDS = "verified_records"
UNVERIFIED_ORDER = "unverified_order_number"
UNVERIFIED_INVOICE = "unverified_invoice_number"
# The raw tracker slots the gateway reads when it escalates on its own.
VERIFICATION_SLOT = "verification"
ORDER_SLOT = "order_number"
INVOICE_SLOT = "invoice_number"
# Facts with no customer data in them, shown as they are.
PLAIN_SLOTS = (("sku", "SKU"), ("product", "product"), ("quantity", "quantity"))
MAX_VALUE_CHARS = 60
MAX_RECORDS = 20
NOT_VERIFIED = "NOT verified: do not disclose"

Source = Literal["action", "tracker"]
FactStatus = Literal["verified", "unverified", ""]

# An order or invoice number as people and the model write it: SO-100123, INV 200123,
# order #100123, or six digits alone (orders run 100000-199999, invoices 200000-299999).
_RECORD = re.compile(
    r"(?<![A-Za-z0-9])(?:(?P<prefix>SO|INV|ORDER|INVOICE)[ \t\-_#:.]{0,3})?#?"
    r"(?P<digits>[0-9]{6})(?![0-9])",
    re.IGNORECASE | re.ASCII,
)


@dataclass(frozen=True)
class Fact:
    """One line of context for an agent: ``label value (note)``.

    ``status`` is ``verified`` for what the conversation proved, ``unverified`` for numbers
    it did not (the agent must not disclose anything about them), empty otherwise.
    """

    label: str
    value: str
    note: str = ""
    status: FactStatus = ""

    @property
    def text(self) -> str:
        return f"{self.label} {self.value}" + (f" ({self.note})" if self.note else "")


def handoff_slots(
    slots: Mapping[str, Any],
    *,
    conversation_id: str,
    source: Source,
    secret: bytes | Callable[[], bytes],
    now: float,
) -> dict[str, Any]:
    """The facts a handoff keeps, from the action server's payload or Rasa's tracker slots.

    Args:
        slots: the handoff payload's ``slots`` (``source="action"``: the action server
            decoded the verification and sends ``verified_customer_id`` and
            ``verified_records`` only when valid) or the conversation's raw tracker slots
            (``source="tracker"``: only the signed ``verification`` slot counts).
        conversation_id: the conversation being escalated; a verification issued to
            another conversation does not count.
        secret: the verification secret (``erp.access.verification_secret``), or a
            function returning it; when it cannot be had nothing counts as verified.
        now: seconds since the epoch, for the verification's expiry.

    Returns:
        ``verified_customer_id`` (int) and ``verified_records`` (sorted order and invoice
        numbers) when verified, ``unverified_order_number`` / ``unverified_invoice_number``
        for the numbers asked about without proof, and ``sku``, ``product``, ``quantity``;
        empty values are left out. Never raises.
    """
    customer: int | None = None
    records: set[str] = set()
    token = slots.get(VERIFICATION_SLOT)
    if token is not None:
        verification = _read(token, conversation_id, secret, now)
        if verification is not None:
            customer = verification.customer_id
            records = {_record_key(r) for r in verification.records} - {""}
    elif source == "action":
        claimed = slots.get(CUSTOMER)
        if type(claimed) is int:
            customer = claimed
            records = {_record_key(r) for r in _strings(slots.get(RECORDS))} - {""}
    if customer is None:
        records = set()
    kept: dict[str, Any] = {}
    if customer is not None:
        kept[CUSTOMER] = customer
    if records:
        kept[RECORDS] = sorted(records)[:MAX_RECORDS]
    for key, raw_keys in (
        (UNVERIFIED_ORDER, (ORDER_SLOT, UNVERIFIED_ORDER)),
        (UNVERIFIED_INVOICE, (INVOICE_SLOT, UNVERIFIED_INVOICE)),
    ):
        for raw in raw_keys:
            value = _clean(slots.get(raw))
            if value and _record_key(value) not in records:
                kept[key] = value
                break
    for slot, _ in PLAIN_SLOTS:
        value = _clean(slots.get(slot))
        if value:
            kept[slot] = value
    return kept


def context_facts(slots: Mapping[str, Any]) -> list[Fact]:
    """The lines an agent sees for a handoff's stored slots (``handoff_slots``), in order.

    Example:
        >>> [f.text for f in context_facts({"verified_customer_id": 42,
        ...     "verified_records": ["SO-100123"], "unverified_order_number": "SO-100999"})]
        ['verified customer 42', 'order SO-100123 (verified)', 'order SO-100999 (NOT verified: do not disclose)']
    """  # noqa: E501
    facts: list[Fact] = []
    customer = slots.get(CUSTOMER)
    records = _strings(slots.get(RECORDS)) if type(customer) is int else []
    if type(customer) is int:
        facts.append(Fact("verified customer", str(customer), status="verified"))
    for record in records:
        facts.append(Fact(_kind(record), _clean(record), "verified", "verified"))
    shown = {_record_key(record) for record in records}
    # Raw ``order_number`` / ``invoice_number`` (handoffs stored before this shape) are
    # shown too, never as verified.
    for label, keys in (
        ("order", (UNVERIFIED_ORDER, ORDER_SLOT)),
        ("invoice", (UNVERIFIED_INVOICE, INVOICE_SLOT)),
    ):
        for key in keys:
            value = _clean(slots.get(key))
            if value and _record_key(value) not in shown:
                facts.append(Fact(label, value, NOT_VERIFIED, "unverified"))
                shown.add(_record_key(value))
    for slot, label in PLAIN_SLOTS:
        value = _clean(slots.get(slot))
        if value:
            facts.append(Fact(label, value))
    return facts


def verified_records(slots: Mapping[str, Any]) -> frozenset[str]:
    """The order and invoice numbers a handoff's stored slots say were verified."""
    if type(slots.get(CUSTOMER)) is not int:
        return frozenset()
    return frozenset(_record_key(r) for r in _strings(slots.get(RECORDS)))


def record_numbers(text: str) -> list[tuple[int, int, str]]:
    """Where ``text`` names an order or invoice number: (start, end, canonical number).

    Example:
        >>> record_numbers("order #100999 and inv 200123")
        [(0, 13, 'SO-100999'), (18, 28, 'INV-200123')]
    """
    found = []
    for match in _RECORD.finditer(text):
        number = _canonical(match["prefix"], match["digits"])
        if number is not None:
            found.append((match.start(), match.end(), number))
    return found


def unverified_numbers(text: str, verified: Collection[str]) -> list[str]:
    """The order and invoice numbers ``text`` names that are not in ``verified``."""
    allowed = {_record_key(number) for number in verified}
    return [number for _, _, number in record_numbers(text) if number not in allowed]


def mark_unverified(text: str, verified: Collection[str]) -> str:
    """``text`` with ``[NOT verified]`` after each order or invoice number not in ``verified``.

    Example:
        >>> mark_unverified("SO-100123 and SO-100999 are late", {"SO-100123"})
        'SO-100123 and SO-100999 [NOT verified] are late'
    """
    allowed = {_record_key(number) for number in verified}
    marked, last = [], 0
    for _, end, number in record_numbers(text):
        if number not in allowed:
            marked += [text[last:end], " [NOT verified]"]
            last = end
    return "".join(marked) + text[last:]


def _read(
    token: object, conversation_id: str, secret: bytes | Callable[[], bytes], now: float
) -> Any:
    try:
        from erp.access import read_verification  # pure; kept out of the gateway's import

        key = secret() if callable(secret) else secret
        return read_verification(token, secret=key, conversation_id=conversation_id, now=now)
    except Exception as error:
        # A secret that cannot be read must not stop the escalation: nothing is verified.
        logger.error("verification of a handoff could not be checked: %s", error)
        return None


def _canonical(prefix: str | None, digits: str) -> str | None:
    number = int(digits)
    kind = (prefix or "").lower()
    if kind in ("so", "order") or (not kind and 100000 <= number <= 199999):
        return f"SO-{digits}"
    if kind in ("inv", "invoice") or (not kind and 200000 <= number <= 299999):
        return f"INV-{digits}"
    return None


def _record_key(value: str) -> str:
    """The canonical number a value names ("order #100123" is SO-100123), else its upper case."""
    cleaned = _clean(value)
    found = record_numbers(cleaned)
    return found[0][2] if len(found) == 1 else cleaned.upper()


def _kind(record: str) -> str:
    return "invoice" if record.upper().startswith("INV") else "order"


def _strings(value: object) -> list[str]:
    if not isinstance(value, list | tuple | set | frozenset):
        return []
    return [item for item in value if isinstance(item, str) and item.strip()]


def _clean(value: object) -> str:
    """A short single-line string of a slot value or a list of them ("" for anything else)."""
    if isinstance(value, list | tuple):
        return _clean(", ".join(_clean(item) for item in value[:5] if _clean(item)))
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    text = " ".join(str(value).split())
    text = "".join(ch for ch in text if ch.isprintable())
    return text[:MAX_VALUE_CHARS]

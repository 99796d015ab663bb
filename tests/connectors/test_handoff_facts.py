"""What a handoff tells an agent: only the signed verification makes a customer or a record
"verified"; every other number is marked NOT verified, in the facts, the quotes, the queue."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.handoff.facts import (
    context_facts,
    handoff_slots,
    mark_unverified,
    record_numbers,
    unverified_numbers,
)
from connectors.handoff.queue import HandoffQueue, Trigger
from connectors.store import GatewayStore
from erp.access import Verification, sign_verification

SECRET = b"s" * 32
NOW = 1_800_000_000.0
ASKED = Trigger("user_request", 0.97, "asked for a person")


def token(
    conversation: str = "web:a",
    customer: int = 42,
    records: frozenset[str] = frozenset({"SO-100123"}),
    *,
    expires: float = NOW + 600,
    secret: bytes = SECRET,
) -> str:
    record = Verification(conversation, customer, frozenset({"postcode"}), records, expires)
    return sign_verification(record, secret=secret)


def kept(slots: dict[str, Any], source: str = "tracker", conversation: str = "web:a") -> Any:
    return handoff_slots(
        slots, conversation_id=conversation, source=source,  # type: ignore[arg-type]
        secret=SECRET, now=NOW,
    )  # fmt: skip


def lines(slots: dict[str, Any]) -> list[str]:
    return [fact.text for fact in context_facts(slots)]


def test_a_valid_verification_shows_the_customer_and_marks_other_numbers() -> None:
    slots = kept({"verification": token(), "order_number": "SO-100999", "sku": "WID-1001"})

    assert slots == {
        "verified_customer_id": 42,
        "verified_records": ["SO-100123"],
        "unverified_order_number": "SO-100999",
        "sku": "WID-1001",
    }
    assert lines(slots) == [
        "verified customer 42",
        "order SO-100123 (verified)",
        "order SO-100999 (NOT verified: do not disclose)",
        "SKU WID-1001",
    ]


def test_the_order_the_conversation_verified_is_not_repeated_as_unverified() -> None:
    slots = kept({"verification": token(), "order_number": "SO-100123"})

    assert lines(slots) == ["verified customer 42", "order SO-100123 (verified)"]


@pytest.mark.parametrize(
    "slots",
    [
        {"verified_customer_id": 7, "order_number": "SO-100123"},
        {"verification": token(conversation="web:other"), "order_number": "SO-100123"},
        {"verification": token(expires=NOW - 1), "order_number": "SO-100123"},
        {"verification": token(secret=b"x" * 32), "order_number": "SO-100123"},
        {"verification": token()[:-4] + "AAAA", "order_number": "SO-100123"},
        {"verification": {"customer_id": 7}, "order_number": "SO-100123"},
        {"verified_records": ["SO-100123"], "order_number": "SO-100123"},
    ],
    ids=["plain-slot", "other-conversation", "expired", "other-secret", "edited", "not-a-token",
         "records-without-proof"],
)  # fmt: skip
def test_nothing_a_user_can_set_in_the_tracker_reads_as_verified(slots: dict[str, Any]) -> None:
    facts = context_facts(kept(slots))

    assert [f.text for f in facts] == ["order SO-100123 (NOT verified: do not disclose)"]
    assert all(f.status != "verified" for f in facts)


def test_the_action_servers_payload_carries_decoded_facts() -> None:
    slots = kept(
        {"verified_customer_id": 42, "verified_records": ["SO-100123", "INV-200456"],
         "unverified_invoice_number": "INV-200999", "product": "Blue Widget"},
        source="action",
    )  # fmt: skip

    assert lines(slots) == [
        "verified customer 42",
        "invoice INV-200456 (verified)",
        "order SO-100123 (verified)",
        "invoice INV-200999 (NOT verified: do not disclose)",
        "product Blue Widget",
    ]


@pytest.mark.parametrize(
    "slots",
    [
        {"verified_customer_id": "42", "verified_records": ["SO-100123"]},
        {"verified_customer_id": True, "verified_records": ["SO-100123"]},
        {"verification": "forged", "verified_customer_id": 42, "verified_records": ["SO-100123"]},
    ],
    ids=["customer-as-text", "customer-as-bool", "bad-token-wins"],
)
def test_a_payload_without_a_proper_customer_verifies_nothing(slots: dict[str, Any]) -> None:
    assert kept(slots, source="action") == {}


def test_an_unreadable_secret_verifies_nothing_and_does_not_raise() -> None:
    def broken() -> bytes:
        raise ValueError("VERIFICATION_SECRET must be at least 16 characters, got 3")

    slots = handoff_slots(
        {"verification": token(), "order_number": "SO-100123"},
        conversation_id="web:a", source="tracker", secret=broken, now=NOW,
    )  # fmt: skip

    assert slots == {"unverified_order_number": "SO-100123"}


@pytest.mark.parametrize(
    "value",
    [
        {"nested": 1},
        ["SO-100123", {"x": 1}],
        ["y" * 50] * 9,
        "x" * 5000,
        "SO-100123\x00\x1b[31m",
        3.5,
        None,
        True,
    ],
    ids=["dict", "list", "long-list", "huge", "control-chars", "float", "none", "bool"],
)
def test_odd_slot_values_are_cut_down_never_a_crash(value: object) -> None:
    slots = kept({"order_number": value, "sku": value, "quantity": value})

    for fact in context_facts(slots):
        assert len(fact.value) <= 60 and fact.value.isprintable()


def test_record_numbers_are_found_however_they_are_written() -> None:
    text = "SO-100123, so100124, order #100125, INV 200126, invoice:200127, 100128, 999999"

    assert [number for _, _, number in record_numbers(text)] == [
        "SO-100123", "SO-100124", "SO-100125", "INV-200126", "INV-200127", "SO-100128",
    ]  # fmt: skip
    assert unverified_numbers(text, {"so-100123", "INV-200126"}) == [
        "SO-100124", "SO-100125", "INV-200127", "SO-100128",
    ]  # fmt: skip
    assert mark_unverified("is SO-100124 mine?", set()) == "is SO-100124 [NOT verified] mine?"


# --- through the queue ----------------------------------------------------------------------


class Tracker:
    def __init__(self, slots: dict[str, Any]) -> None:
        self.values = slots

    async def slots(self, conversation_id: str) -> dict[str, Any]:
        return dict(self.values)

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        return None


async def test_a_gateway_escalation_decodes_the_trackers_verification(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    await store.append_user("web:a", "SO-100123 is late, and what about SO-100999?")
    tracker = Tracker({"verification": token(), "order_number": "SO-100999",
                       "verified_customer_id": 7})  # fmt: skip
    queue = HandoffQueue(store, tracker=tracker, secret=SECRET, clock=lambda: NOW)

    handoff = await queue.escalate("web:a", "web", ASKED)

    assert handoff.slots["verified_customer_id"] == 42  # the token's, not the plain slot's 7
    assert handoff.summary.splitlines()[:2] == [
        'Issue: "SO-100123 is late, and what about SO-100999 [NOT verified]?"',
        "Known: verified customer 42, order SO-100123 (verified), "
        "order SO-100999 (NOT verified: do not disclose)",
    ]
    assert "7" not in handoff.summary.splitlines()[1]


async def test_a_forged_plain_slot_never_reaches_the_summary(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    await store.append_user("web:a", "where is SO-100123")
    tracker = Tracker({"verified_customer_id": 7, "order_number": "SO-100123"})
    queue = HandoffQueue(store, tracker=tracker, secret=SECRET, clock=lambda: NOW)

    handoff = await queue.escalate("web:a", "web", ASKED)

    assert handoff.slots == {"unverified_order_number": "SO-100123"}
    assert "verified customer" not in handoff.summary
    assert "order SO-100123 (NOT verified: do not disclose)" in handoff.summary

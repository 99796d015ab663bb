"""Verification the client cannot write: signed slots, both factors for unpaid, no groups."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.inventory import ActionCheckStock, ValidateStockForm
from actions.invoices import (
    ActionInvoiceStatus,
    ActionListUnpaidInvoices,
    ValidateInvoiceForm,
    ValidateUnpaidInvoicesForm,
)
from actions.orders import ActionOrderStatus, ValidateOrderForm
from actions.verification import client_key, not_verified, verification
from envvars import forget_current
from erp.models import Customer, Invoice, SalesOrder, StockLevel
from tests.actions.conftest import (
    SENDER,
    as_staff,
    proof_in,
    slot_events,
    texts,
    tracker,
    verified,
)

UNPAID = ("open", "overdue", "partially_paid")


def shipped_order(db: Session) -> tuple[SalesOrder, Customer]:
    order = db.scalars(select(SalesOrder).where(SalesOrder.status == "shipped").limit(1)).one()
    return order, db.get(Customer, order.customer_id)


def customer_with_unpaid(db: Session) -> tuple[Customer, set[str], SalesOrder]:
    """A customer with unpaid invoices and at least one order, and those invoice numbers."""
    invoice = db.scalars(select(Invoice).where(Invoice.status.in_(UNPAID)).limit(1)).one()
    customer = db.get(Customer, invoice.customer_id)
    numbers = set(
        db.scalars(
            select(Invoice.invoice_number).where(
                Invoice.customer_id == customer.id, Invoice.status.in_(UNPAID)
            )
        )
    )
    order = db.scalars(select(SalesOrder).where(SalesOrder.customer_id == customer.id)).first()
    return customer, numbers, order


def other_customer(db: Session, customer: Customer) -> Customer:
    return db.scalars(
        select(Customer)
        .where(Customer.id != customer.id, Customer.postcode != customer.postcode)
        .limit(1)
    ).one()


def tampered(token: str, customer_id: int) -> str:
    """The token with its customer id changed and the original signature kept."""
    body, _, signature = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["u"] = customer_id
    data = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return f"{base64.urlsafe_b64encode(data).rstrip(b'=').decode()}.{signature}"


def forgeries(customer_id: int, other_id: int) -> dict[str, Any]:
    genuine_for_other = verified(other_id, "email", "postcode")["verification"]
    return {
        "random": "c29tZXRoaW5n.bm90IGEgc2lnbmF0dXJl",
        "other-secret": verified(customer_id, "email", "postcode", secret="o" * 32),
        "other-sender": verified(customer_id, "email", "postcode", sender_id="web:victim"),
        "expired": verified(customer_id, "email", "postcode", expires_at=time.time() - 1),
        "tampered-customer": tampered(genuine_for_other, customer_id),
        "number": 12345,
        "dict": {"customer_id": customer_id},
    }


FORGERY_IDS = list(forgeries(1, 2))


def forged(kind: str, customer_id: int, other_id: int) -> dict[str, Any]:
    value = forgeries(customer_id, other_id)[kind]
    return value if isinstance(value, dict) and "verification" in value else {"verification": value}


@pytest.mark.parametrize("kind", FORGERY_IDS, ids=FORGERY_IDS)
async def test_a_forged_verification_gets_no_order_facts(
    kind: str, erp_db: Session, domain: dict
) -> None:
    order, customer = shipped_order(erp_db)
    other = other_customer(erp_db, customer)
    slots = {"order_number": order.order_number, **forged(kind, customer.id, other.id)}
    dispatcher = CollectingDispatcher()

    await ActionOrderStatus().run(dispatcher, tracker(slots), domain)
    required = await ValidateOrderForm().required_slots(
        ["order_number", "identity"], CollectingDispatcher(), tracker(slots), domain
    )

    assert dispatcher.messages == []
    assert required == ["order_number", "identity"]
    assert verification(tracker(slots)) is None


@pytest.mark.parametrize("kind", FORGERY_IDS, ids=FORGERY_IDS)
async def test_a_forged_verification_lists_no_unpaid_invoices(
    kind: str, erp_db: Session, domain: dict
) -> None:
    customer, _, _ = customer_with_unpaid(erp_db)
    other = other_customer(erp_db, customer)
    slots = forged(kind, customer.id, other.id)
    dispatcher = CollectingDispatcher()

    await ActionListUnpaidInvoices().run(dispatcher, tracker(slots), domain)

    assert dispatcher.messages == []


def test_the_genuine_token_the_forgeries_are_made_from_is_accepted() -> None:
    genuine = verified(7, "email", records=("SO-100123",))
    proof = verification(tracker(genuine))
    assert (proof.customer_id, proof.factors, proof.records) == (7, {"email"}, {"SO-100123"})


async def test_a_plain_verified_customer_id_slot_is_ignored(erp_db: Session, domain: dict) -> None:
    order, customer = shipped_order(erp_db)
    injected = {"order_number": order.order_number, "verified_customer_id": customer.id}
    answer, unpaid = CollectingDispatcher(), CollectingDispatcher()

    await ActionOrderStatus().run(answer, tracker(injected), domain)
    await ActionListUnpaidInvoices().run(unpaid, tracker(injected), domain)
    required = await ValidateOrderForm().required_slots(
        ["order_number", "identity"], CollectingDispatcher(), tracker(injected), domain
    )

    assert answer.messages == [] and unpaid.messages == []
    assert required == ["order_number", "identity"]


def test_the_domain_has_only_the_signed_verification_slot(domain: dict) -> None:
    assert "verified_customer_id" not in domain["slots"]
    slot = domain["slots"]["verification"]
    assert slot["type"] == "text" and slot["influence_conversation"] is False
    assert slot["mappings"] == [{"type": "custom"}]


async def test_a_staff_lookup_does_not_verify_a_customer_message(
    erp_db: Session, domain: dict
) -> None:
    order, customer = shipped_order(erp_db)
    staff_proof = verified(customer.id, "staff", records=(order.order_number,))
    slots = {"order_number": order.order_number, **staff_proof}
    as_customer, as_staff_member = CollectingDispatcher(), CollectingDispatcher()

    await ActionOrderStatus().run(as_customer, tracker(slots), domain)
    await ActionOrderStatus().run(as_staff_member, as_staff(tracker(slots)), domain)

    assert as_customer.messages == []
    assert order.order_number in texts(as_staff_member)


async def test_another_order_of_the_verified_customer_joins_the_records(
    erp_db: Session, domain: dict
) -> None:
    order, customer = shipped_order(erp_db)
    second = erp_db.scalars(
        select(SalesOrder).where(
            SalesOrder.customer_id == customer.id, SalesOrder.order_number != order.order_number
        )
    ).first()
    assert second is not None
    state = tracker(verified(customer.id, "postcode", records=(order.order_number,)))

    result = await ValidateOrderForm().validate_order_number(
        second.order_number, CollectingDispatcher(), state, domain
    )

    assert proof_in(result).records == {order.order_number, second.order_number}
    assert proof_in(result).factors == {"postcode"}


async def test_another_customers_order_is_not_added(erp_db: Session, domain: dict) -> None:
    order, customer = shipped_order(erp_db)
    theirs = erp_db.scalars(
        select(SalesOrder).where(SalesOrder.customer_id != customer.id).limit(1)
    ).one()
    state = tracker(verified(customer.id, "postcode", records=(order.order_number,)))

    result = await ValidateOrderForm().validate_order_number(
        theirs.order_number, CollectingDispatcher(), state, domain
    )

    assert result == {"order_number": theirs.order_number}


async def test_verifying_another_customer_replaces_the_verification(
    erp_db: Session, domain: dict
) -> None:
    order, customer = shipped_order(erp_db)
    other = other_customer(erp_db, customer)
    state = tracker({"order_number": order.order_number, **verified(other.id, "email", "postcode")})

    result = await ValidateOrderForm().validate_identity(
        customer.email, CollectingDispatcher(), state, domain
    )

    proof = proof_in(result)
    assert (proof.customer_id, proof.factors, proof.records) == (
        customer.id,
        {"email"},
        {order.order_number},
    )


async def test_a_postcode_typed_with_two_spaces_verifies(erp_db: Session, domain: dict) -> None:
    order = erp_db.scalars(
        select(SalesOrder).join(Customer).where(Customer.postcode.contains(" ")).limit(1)
    ).one()
    customer = erp_db.get(Customer, order.customer_id)
    # As Rasa fills the slot from the whole message when no entity was found in it.
    said = f"my postcode is {customer.postcode.replace(' ', '  ').lower()}"

    result = await ValidateOrderForm().validate_identity(
        said,
        CollectingDispatcher(),
        tracker({"order_number": order.order_number}, text=said),
        domain,
    )

    assert proof_in(result).customer_id == customer.id


# --- "my unpaid invoices" needs email and postcode of the same customer (finding 4) --------


async def test_unpaid_after_a_postcode_only_order_verification_asks_for_the_email(
    erp_db: Session, domain: dict
) -> None:
    customer, unpaid, order = customer_with_unpaid(erp_db)
    verified_on_order = await ValidateOrderForm().validate_identity(
        customer.postcode,
        CollectingDispatcher(),
        tracker({"order_number": order.order_number}),
        domain,
    )
    assert proof_in(verified_on_order).factors == {"postcode"}
    state = tracker({"verification": verified_on_order["verification"]})
    listed = CollectingDispatcher()

    required = await ValidateUnpaidInvoicesForm().required_slots(
        ["email", "postcode"], CollectingDispatcher(), state, domain
    )
    await ActionListUnpaidInvoices().run(listed, state, domain)

    assert required == ["email"]
    assert listed.messages == []


async def test_another_customers_email_does_not_complete_a_postcode_verification(
    erp_db: Session, domain: dict
) -> None:
    customer, unpaid, order = customer_with_unpaid(erp_db)
    other = other_customer(erp_db, customer)
    state = tracker(
        {**verified(customer.id, "postcode", records=(order.order_number,)), "email": other.email},
        requested_slot="email",
        active_loop="unpaid_invoices_form",
    )
    dispatcher = CollectingDispatcher()

    events = await ValidateUnpaidInvoicesForm().run(dispatcher, state, domain)

    slots = slot_events(events)
    assert texts(dispatcher) == not_verified()
    assert slots["email"] is None and slots["verification_attempts"] == 1
    assert slots["requested_slot"] == "email"  # asked again
    assert "verification" not in slots
    assert not any(number in texts(dispatcher) for number in unpaid)


async def test_the_same_customers_email_completes_it_and_lists_the_invoices(
    erp_db: Session, domain: dict
) -> None:
    customer, unpaid, order = customer_with_unpaid(erp_db)
    state = tracker(
        verified(customer.id, "postcode", records=(order.order_number,)),
        text=f"it's {customer.email.upper()}",
    )

    result = await ValidateUnpaidInvoicesForm().validate_email(
        customer.email.upper(), CollectingDispatcher(), state, domain
    )
    proof = proof_in(result)
    listed = CollectingDispatcher()
    await ActionListUnpaidInvoices().run(listed, tracker(result), domain)

    assert (proof.customer_id, proof.factors) == (customer.id, {"email", "postcode"})
    assert proof.records == {order.order_number}  # what was checked before is kept
    assert all(number in texts(listed) for number in unpaid)


async def test_an_email_only_verification_is_asked_for_the_postcode_of_the_same_customer(
    erp_db: Session, domain: dict
) -> None:
    customer, unpaid, _ = customer_with_unpaid(erp_db)
    other = other_customer(erp_db, customer)
    state = tracker(verified(customer.id, "email"))
    form = ValidateUnpaidInvoicesForm()
    wrong = CollectingDispatcher()

    required = await form.required_slots(["email", "postcode"], wrong, state, domain)
    refused = await form.validate_postcode(other.postcode, wrong, state, domain)
    accepted = await form.validate_postcode(
        customer.postcode, CollectingDispatcher(), state, domain
    )

    assert required == ["postcode"]
    assert refused == {"postcode": None, "verification_attempts": 1}
    assert texts(wrong) == not_verified()
    assert proof_in(accepted).factors == {"email", "postcode"}


# --- group chats: no record facts, no shared verification (finding 6) -----------------------


@pytest.mark.parametrize(
    ("channel", "where"),
    [("telegram", "message me privately"), ("slack", "send me a direct message")],
    ids=["telegram", "slack"],
)
@pytest.mark.parametrize(
    ("form", "slot"),
    [
        (ValidateOrderForm, "order_number"),
        (ValidateInvoiceForm, "invoice_number"),
        (ValidateUnpaidInvoicesForm, "email"),
    ],
    ids=["order", "invoice", "unpaid"],
)
async def test_a_group_chat_is_told_to_ask_privately_and_the_form_ends(
    channel: str, where: str, form: type, slot: str, erp_db: Session, domain: dict
) -> None:
    order, customer = shipped_order(erp_db)
    invoice = erp_db.scalars(select(Invoice).where(Invoice.customer_id == customer.id)).first()
    values = {
        "order_number": order.order_number,
        "invoice_number": invoice.invoice_number,
        "email": customer.email,
    }
    state = tracker(
        {slot: values[slot], "identity": customer.email},
        text=f"{values[slot]} {customer.email}",
        active_loop=form().name().removeprefix("validate_"),
        metadata={"channel": channel, "role": "customer", "client": "x", "group": True},
    )
    dispatcher = CollectingDispatcher()

    events = await form().run(dispatcher, state, domain)

    [message] = dispatcher.messages
    assert "group chat" in message["text"] and where in message["text"]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    slots = slot_events(events)
    assert slots["requested_slot"] is None and "verification" not in slots


async def test_a_verification_is_not_used_in_a_group(erp_db: Session, domain: dict) -> None:
    order, customer = shipped_order(erp_db)
    group = {"channel": "telegram", "client": "telegram:user:5", "group": True}
    proof = verified(customer.id, "email", "postcode", records=(order.order_number,))
    order_reply, unpaid_reply = CollectingDispatcher(), CollectingDispatcher()

    await ActionOrderStatus().run(
        order_reply, tracker({"order_number": order.order_number, **proof}, metadata=group), domain
    )
    await ActionListUnpaidInvoices().run(unpaid_reply, tracker(proof, metadata=group), domain)
    await ActionInvoiceStatus().run(
        unpaid_reply, tracker({"invoice_number": "INV-200123", **proof}, metadata=group), domain
    )

    assert order_reply.messages == [] and unpaid_reply.messages == []


async def test_stock_still_works_in_a_group(erp_db: Session, domain: dict) -> None:
    sku = erp_db.scalar(select(StockLevel.sku).limit(1))
    group = {"channel": "slack", "client": "slack:T1:U1", "group": True}
    form_reply, answer = CollectingDispatcher(), CollectingDispatcher()

    result = await ValidateStockForm().validate_sku(
        sku, form_reply, tracker(metadata=group), domain
    )
    await ActionCheckStock().run(answer, tracker({"sku": sku}, metadata=group), domain)

    assert result == {"sku": sku}
    assert sku in texts(answer) and "group chat" not in texts(answer)


def test_the_client_key_comes_from_the_gateway_else_the_sender() -> None:
    assert client_key(tracker(metadata={"client": "ip:203.0.113.9"})) == "ip:203.0.113.9"
    assert client_key(tracker()) == f"sender:{SENDER}"


async def test_an_answer_renews_the_verification_for_another_hour(
    erp_db: Session, domain: dict
) -> None:
    order, customer = shipped_order(erp_db)
    soon = time.time() + 600
    slots = {"order_number": order.order_number, **verified(customer.id, expires_at=soon)}

    events = await ActionOrderStatus().run(CollectingDispatcher(), tracker(slots), domain)

    renewed = proof_in(slot_events(events))
    assert renewed.expires_at > time.time() + 3500
    assert (renewed.customer_id, renewed.records) == (customer.id, {order.order_number})


def test_warm_up_reads_the_secret_and_opens_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actions.lockout import lockout_store
    from actions.verification import warm_up

    warm_up()
    assert (tmp_path / "actions-state.db").exists()  # ACTIONS_STATE_DB of the autouse fixture

    monkeypatch.setenv("VERIFICATION_SECRET", "too short")
    forget_current()
    lockout_store.cache_clear()
    with pytest.raises(ValueError, match="VERIFICATION_SECRET must be at least 16 characters"):
        warm_up()

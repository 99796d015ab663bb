"""The order form and the order-status answer, against a seeded ERP."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import ActionOrderStatus, ValidateOrderForm
from actions.verification import not_verified
from erp.models import Customer, SalesOrder, Shipment
from i18n.texts import say
from tests.actions.conftest import proof_in, slot_events, texts, tracker, verified


def an_order(db: Session, status: str) -> tuple[SalesOrder, Customer]:
    order = db.scalars(select(SalesOrder).where(SalesOrder.status == status).limit(1)).one()
    return order, db.get(Customer, order.customer_id)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("#100123", "SO-100123"), ("so 100123", "SO-100123"), ("my order 100123", "SO-100123")],
    ids=["hash", "lowercase-space", "in-a-sentence"],
)
async def test_order_number_is_normalised(
    typed: str, expected: str, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    result = await ValidateOrderForm().validate_order_number(typed, dispatcher, tracker(), domain)
    assert result == {"order_number": expected}
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "typed",
    ["abc", "1; DROP TABLE customers", "SO-12", "🙂" * 50],
    ids=["letters", "sql", "short", "emoji"],
)
async def test_bad_order_number_is_refused_with_the_reason(
    typed: str, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    result = await ValidateOrderForm().validate_order_number(typed, dispatcher, tracker(), domain)
    assert result == {"order_number": None}
    assert "not an order number" in texts(dispatcher)


async def test_right_email_verifies_the_orders_customer(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    order, customer = an_order(erp_db, "shipped")
    result = await ValidateOrderForm().validate_identity(
        f"  {customer.email.upper()} ",
        dispatcher,
        tracker({"order_number": order.order_number}),
        domain,
    )
    assert result["identity"] == "verified"
    proof = proof_in(result)
    assert (proof.customer_id, proof.factors, proof.records) == (
        customer.id,
        {"email"},
        {order.order_number},
    )
    assert dispatcher.messages == []


async def test_wrong_identity_and_unknown_order_get_the_same_neutral_reply(
    erp_db: Session, domain: dict
) -> None:
    order, customer = an_order(erp_db, "shipped")
    wrong, missing = CollectingDispatcher(), CollectingDispatcher()
    form = ValidateOrderForm()
    first = await form.validate_identity(
        "not.them@example.com", wrong, tracker({"order_number": order.order_number}), domain
    )
    second = await form.validate_identity(
        customer.email, missing, tracker({"order_number": "SO-199999"}), domain
    )
    assert first == second == {"identity": None, "verification_attempts": 1}
    assert texts(wrong) == texts(missing) == not_verified()


async def test_third_failure_gives_up_and_ends_the_form(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    order, _ = an_order(erp_db, "pending")
    form = ValidateOrderForm()
    state = tracker({"order_number": order.order_number, "verification_attempts": 2},
                    requested_slot="identity", active_loop="order_form")  # fmt: skip
    state.slots["identity"] = "ZZ9 9ZZ"
    state.events.append({"event": "slot", "name": "identity", "value": "ZZ9 9ZZ"})
    events = await form.run(dispatcher, state, domain)
    assert texts(dispatcher) == say("verify.give_up", "en")
    slots = slot_events(events)
    assert slots["verification_attempts"] == 3
    assert slots["requested_slot"] is None  # the form ends


async def test_verified_owner_is_not_asked_again(erp_db: Session, domain: dict) -> None:
    order, customer = an_order(erp_db, "delivered")
    required = await ValidateOrderForm().required_slots(
        ["order_number", "identity"],
        CollectingDispatcher(),
        tracker({"order_number": order.order_number, **verified(customer.id)}),
        domain,
    )
    assert required == ["order_number"]


async def test_verified_for_another_customer_is_asked_again(erp_db: Session, domain: dict) -> None:
    order, customer = an_order(erp_db, "delivered")
    other = erp_db.scalars(select(Customer).where(Customer.id != customer.id).limit(1)).one()
    required = await ValidateOrderForm().required_slots(
        ["order_number", "identity"],
        CollectingDispatcher(),
        tracker({"order_number": order.order_number, **verified(other.id)}),
        domain,
    )
    assert required == ["order_number", "identity"]


async def test_status_of_a_shipped_order_has_carrier_tracking_and_eta(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    order, customer = an_order(erp_db, "shipped")
    shipment = erp_db.scalars(
        select(Shipment).where(Shipment.order_number == order.order_number)
    ).one()
    events = await ActionOrderStatus().run(
        dispatcher,
        tracker({"order_number": order.order_number, **verified(customer.id)}),
        domain,
    )
    reply = texts(dispatcher)
    assert order.order_number in reply and "shipped" in reply
    assert shipment.carrier in reply and shipment.tracking_number in reply
    eta = shipment.estimated_delivery
    assert f"{eta.day} {eta:%b %Y}" in reply
    slots = slot_events(events)
    assert slots["order_number"] is None and slots["identity"] is None
    # verification outlives the question, now with the order among its records
    assert proof_in(slots).records == {order.order_number}


async def test_unverified_conversation_gets_no_order_facts(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    order, _ = an_order(erp_db, "shipped")
    await ActionOrderStatus().run(dispatcher, tracker({"order_number": order.order_number}), domain)
    assert dispatcher.messages == []


async def test_unreachable_database_gets_a_clear_reply_and_ends_the_form(
    monkeypatch, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    from erp.db import reset_engine_cache

    monkeypatch.setenv("ERP_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    reset_engine_cache()
    state = tracker({"order_number": "SO-100123", **verified(1)},
                    active_loop="order_form", requested_slot="order_number")  # fmt: skip
    events = await ValidateOrderForm().run(dispatcher, state, domain)
    reset_engine_cache()
    assert "can't reach our order system" in texts(dispatcher)
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)


async def test_identity_inside_a_sentence_verifies(erp_db: Session, domain: dict) -> None:
    order, customer = an_order(erp_db, "confirmed")
    result = await ValidateOrderForm().validate_identity(
        f"sure, my postcode is {customer.postcode.lower()}",
        CollectingDispatcher(),
        tracker({"order_number": order.order_number}),
        domain,
    )
    assert proof_in(result).customer_id == customer.id
    assert proof_in(result).factors == {"postcode"}

"""Cancelling an order through the actions: every path (allowed, refused by status,
confirmed, declined, corrected mid-form, a stale confirmation, a repeated yes, staff, an ERP
without the write), on a database of its own, checked afterwards, with the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actions.cancel import ActionAskCancelConfirmed, ActionCancelOrder, ValidateCancelOrderForm
from actions.changes import KEY_SLOT, LAST_WRITE_SLOT, ActionRepeatWrite
from demo.seed import seed
from erp import writes
from erp.audit import audit_trail
from erp.db import make_engine, reset_engine_cache
from erp.models import AssistantWrite, Customer, SalesOrder
from erp.schema import forget_schemas
from tests.actions.conftest import as_staff, proof_in, slot_events, texts, tracker, verified
from tests.erp.test_mapping_check import MAPPINGS


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A seeded demo ERP of this test's own: the writes change it."""
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = make_engine(url)
    seed(engine, scale=0.05, today=date.today(), progress=False)
    monkeypatch.setenv("ERP_DATABASE_URL", url)
    monkeypatch.delenv("ERP_WRITE_DATABASE_URL", raising=False)
    monkeypatch.delenv("ERP_MAPPING", raising=False)
    reset_engine_cache()
    writes.reset_write_engine()
    forget_schemas()
    with Session(engine) as session:
        yield session
    engine.dispose()
    reset_engine_cache()
    writes.reset_write_engine()
    forget_schemas()


def an_order(db: Session, status: str) -> tuple[SalesOrder, Customer]:
    order = db.scalars(select(SalesOrder).where(SalesOrder.status == status).limit(1)).one()
    return order, db.get(Customer, order.customer_id)


def status_of(db: Session, number: str) -> str:
    db.expire_all()
    return db.scalars(select(SalesOrder.status).where(SalesOrder.order_number == number)).one()


async def confirmation_shown(
    number: str, proof: dict, domain: dict, *, staff: bool = False
) -> tuple[str, dict]:
    dispatcher = CollectingDispatcher()
    state = tracker({"order_number": number, **proof})
    events = await ActionAskCancelConfirmed().run(
        dispatcher, as_staff(state) if staff else state, domain
    )
    return texts(dispatcher), {**slot_events(events), "buttons": dispatcher.messages[0]["buttons"]}


async def test_a_verified_customer_cancels_a_confirmed_order_once(
    db: Session, domain: dict
) -> None:
    order, customer = an_order(db, "confirmed")
    state = tracker({"order_number": order.order_number}, text=customer.postcode)
    checked = await ValidateCancelOrderForm().validate_identity(
        customer.postcode, CollectingDispatcher(), state, domain
    )
    assert checked["identity"] == "verified" and "cancel_confirmed" not in checked
    proof = {"verification": checked["verification"]}

    summary, shown = await confirmation_shown(order.order_number, proof, domain)
    assert f"cancel order {order.order_number}" in summary and "can't be undone" in summary
    assert [b["payload"] for b in shown["buttons"]] == ["/affirm", "/deny"]
    assert status_of(db, order.order_number) == "confirmed"  # nothing changed by asking

    confirmed = {"order_number": order.order_number, KEY_SLOT: shown[KEY_SLOT], **proof}
    done = CollectingDispatcher()
    events = await ActionCancelOrder().run(
        done, tracker({**confirmed, "cancel_confirmed": "yes"}), domain
    )
    assert f"Done: order {order.order_number} is cancelled" in texts(done)
    assert status_of(db, order.order_number) == "cancelled"

    again = CollectingDispatcher()
    last = {LAST_WRITE_SLOT: slot_events(events)[LAST_WRITE_SLOT], **proof}
    await ActionRepeatWrite().run(again, tracker(last), domain)
    assert texts(again) == texts(done)  # the same answer, from the change's record
    assert db.scalar(select(func.count()).select_from(AssistantWrite)) == 1

    trail = audit_trail().query(conversation="test-user")
    written = [e for e in trail if e.operation == "writes.cancel_order"]
    assert [(e.outcome, e.record, e.customer, e.actor) for e in written] == [
        ("done", order.order_number, str(customer.id), "customer")
    ]
    assert any(e.operation == "writes.recorded_outcome" and e.outcome == "repeated" for e in trail)
    # Personal data minimised: what the customer typed as their identity is nowhere.
    assert not any(customer.postcode in str(e) or customer.email in str(e) for e in trail)


@pytest.mark.parametrize("status", ["picking", "shipped", "cancelled"])
async def test_an_order_past_confirmed_is_refused_before_any_question(
    db: Session, domain: dict, status: str
) -> None:
    order, customer = an_order(db, status)
    dispatcher = CollectingDispatcher()
    state = tracker({"order_number": order.order_number}, text=customer.email)
    checked = await ValidateCancelOrderForm().validate_identity(
        customer.email, dispatcher, state, domain
    )
    assert checked["cancel_confirmed"] == "refused"
    assert order.order_number in texts(dispatcher) and "cancel" in texts(dispatcher)
    ended = CollectingDispatcher()
    await ActionCancelOrder().run(
        ended, tracker({**checked, "order_number": order.order_number}), domain
    )
    assert texts(ended) == ""  # the form already said why
    assert status_of(db, order.order_number) == status


async def test_no_keeps_the_order(db: Session, domain: dict) -> None:
    order, customer = an_order(db, "pending")
    proof = verified(customer.id, "email", records=(order.order_number,))
    _, shown = await confirmation_shown(order.order_number, proof, domain)
    dispatcher = CollectingDispatcher()
    state = {"order_number": order.order_number, KEY_SLOT: shown[KEY_SLOT], **proof}
    await ActionCancelOrder().run(dispatcher, tracker({**state, "cancel_confirmed": "no"}), domain)
    assert "haven't changed anything" in texts(dispatcher)
    assert status_of(db, order.order_number) == "pending"


async def test_another_order_typed_while_confirming_starts_over_for_it(
    db: Session, domain: dict
) -> None:
    order, customer = an_order(db, "confirmed")
    other = db.scalars(
        select(SalesOrder).where(SalesOrder.customer_id != customer.id).limit(1)
    ).one()
    proof = verified(customer.id, "email", records=(order.order_number,))
    state = tracker(
        {"order_number": other.order_number, **proof}, requested_slot="cancel_confirmed"
    )
    result = await ValidateCancelOrderForm().validate_order_number(
        other.order_number, CollectingDispatcher(), state, domain
    )
    # Not this customer's verified order: its confirmation is cleared and identity is asked.
    assert result["order_number"] == other.order_number and result["cancel_confirmed"] is None
    required = await ValidateCancelOrderForm().required_slots(
        ["order_number", "identity", "cancel_confirmed"],
        CollectingDispatcher(),
        tracker({"order_number": other.order_number, **proof}),
        domain,
    )
    assert "identity" in required


async def test_a_yes_without_the_summary_for_that_order_changes_nothing(
    db: Session, domain: dict
) -> None:
    order, customer = an_order(db, "confirmed")
    proof = verified(customer.id, "email", records=(order.order_number,))
    dispatcher = CollectingDispatcher()
    stale = {KEY_SLOT: "SO-199999|somekey", "cancel_confirmed": "yes"}
    await ActionCancelOrder().run(
        dispatcher, tracker({"order_number": order.order_number, **proof, **stale}), domain
    )
    assert "changed nothing" in texts(dispatcher)
    assert status_of(db, order.order_number) == "confirmed"


async def test_staff_cancel_any_customers_order_recorded_as_theirs(
    db: Session, domain: dict
) -> None:
    order, customer = an_order(db, "pending")
    form = ValidateCancelOrderForm()
    state = as_staff(tracker({"order_number": order.order_number}))
    checked = await form.validate_order_number(
        order.order_number, CollectingDispatcher(), state, domain
    )
    assert proof_in(checked).customer_id == customer.id
    proof = {"verification": checked["verification"]}
    _, shown = await confirmation_shown(order.order_number, proof, domain, staff=True)
    confirmed = {"order_number": order.order_number, KEY_SLOT: shown[KEY_SLOT], **proof}
    dispatcher = CollectingDispatcher()
    await ActionCancelOrder().run(
        dispatcher,
        as_staff(tracker({**confirmed, "cancel_confirmed": "yes"}), writes=True),
        domain,
    )
    assert "is cancelled" in texts(dispatcher)
    row = db.scalars(select(AssistantWrite)).one()
    assert row.actor.startswith("staff:") and row.customer == str(customer.id)


async def test_staff_change_orders_only_when_their_role_may(db: Session, domain: dict) -> None:
    order, _ = an_order(db, "pending")
    state = {"order_number": order.order_number}
    looker = CollectingDispatcher()
    events = await ValidateCancelOrderForm().run(
        looker, as_staff(tracker(state, active_loop="cancel_order_form")), domain
    )
    assert "may look orders up but not cancel them" in texts(looker)
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]
    writer = CollectingDispatcher()
    await ValidateCancelOrderForm().run(
        writer, as_staff(tracker(state, active_loop="cancel_order_form"), writes=True), domain
    )
    assert "may look orders up" not in texts(writer)
    assert status_of(db, order.order_number) == "pending"


async def test_an_erp_without_the_write_hands_the_request_to_a_colleague(
    monkeypatch: pytest.MonkeyPatch, domain: dict
) -> None:
    monkeypatch.setenv("ERP_MAPPING", str(MAPPINGS / "northwind.yml"))
    dispatcher = CollectingDispatcher()
    events = await ValidateCancelOrderForm().run(
        dispatcher,
        tracker(
            {"order_number": "10248"}, text="cancel order 10248", active_loop="cancel_order_form"
        ),
        domain,
    )
    handoff = next(m["custom"]["handoff"] for m in dispatcher.messages if m.get("custom"))
    assert handoff["rule"] == "write_not_supported" and "10248" in handoff["detail"]
    assert "colleague" in texts(dispatcher)
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]


async def test_a_database_failure_at_the_change_tells_the_customer_and_changes_nothing(
    db: Session, domain: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from i18n.texts import say

    order, customer = an_order(db, "confirmed")
    proof = verified(customer.id, "email", records=(order.order_number,))
    _, shown = await confirmation_shown(order.order_number, proof, domain)
    engine = writes.get_write_engine()

    def down(_connection: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    event.listen(engine, "commit", down)
    try:
        dispatcher = CollectingDispatcher()
        confirmed = {"order_number": order.order_number, KEY_SLOT: shown[KEY_SLOT], **proof}
        await ActionCancelOrder().run(
            dispatcher, tracker({**confirmed, "cancel_confirmed": "yes"}), domain
        )
    finally:
        event.remove(engine, "commit", down)
    assert texts(dispatcher) == say("error.unavailable", "en")
    assert status_of(db, order.order_number) == "confirmed"

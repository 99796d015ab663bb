"""Staff (marked by the gateway from their Slack user id) look up records without verifying."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.invoices import ValidateInvoiceForm, ValidateUnpaidInvoicesForm
from actions.orders import ValidateOrderForm
from erp.models import Customer, Invoice, SalesOrder
from tests.actions.conftest import as_staff, proof_in, texts, tracker, verified


async def test_staff_are_not_asked_to_verify_an_order(erp_db: Session, domain: dict) -> None:
    order = erp_db.scalars(select(SalesOrder).limit(1)).one()
    form = ValidateOrderForm()
    state = as_staff(tracker({"order_number": order.order_number}))
    assert await form.required_slots(
        ["order_number", "identity"], CollectingDispatcher(), state, domain
    ) == ["order_number"]
    result = await form.validate_order_number(
        order.order_number, CollectingDispatcher(), state, domain
    )
    assert result["order_number"] == order.order_number
    proof = proof_in(result)
    assert (proof.customer_id, proof.factors) == (order.customer_id, {"staff"})


async def test_customers_still_are(erp_db: Session, domain: dict) -> None:
    order = erp_db.scalars(select(SalesOrder).limit(1)).one()
    form = ValidateOrderForm()
    state = tracker({"order_number": order.order_number})
    required = await form.required_slots(
        ["order_number", "identity"], CollectingDispatcher(), state, domain
    )
    assert required == ["order_number", "identity"]
    result = await form.validate_order_number(
        order.order_number, CollectingDispatcher(), state, domain
    )
    assert result == {"order_number": order.order_number}


async def test_staff_hear_when_an_invoice_does_not_exist(
    erp_db: Session, dispatcher: CollectingDispatcher, domain: dict
) -> None:
    missing = "INV-299999"
    assert erp_db.get(Invoice, missing) is None
    result = await ValidateInvoiceForm().validate_invoice_number(
        missing, dispatcher, as_staff(tracker()), domain
    )
    assert result == {"invoice_number": None}
    assert "no invoice INV-299999" in texts(dispatcher)


async def test_staff_list_unpaid_invoices_by_email_only(erp_db: Session, domain: dict) -> None:
    customer = erp_db.scalars(select(Customer).limit(1)).one()
    form = ValidateUnpaidInvoicesForm()
    state = as_staff(tracker(verified(customer.id + 1, "email", "postcode")))
    assert await form.required_slots(
        ["email", "postcode"], CollectingDispatcher(), state, domain
    ) == ["email"]
    result = await form.validate_email(
        customer.email.upper(), CollectingDispatcher(), state, domain
    )
    assert result["email"] == customer.email
    assert proof_in(result).customer_id == customer.id

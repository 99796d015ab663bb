"""Staff see only what their roles allow: every other area is refused, naming the role."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.base import AnswerAction, PrivateFormValidationAction
from actions.invoices import (
    ActionInvoiceStatus,
    ActionListUnpaidInvoices,
    ValidateInvoiceForm,
    ValidateUnpaidInvoicesForm,
)
from actions.orders import ActionOrderStatus, ValidateOrderForm
from actions.staff import AREAS, refusal, staff_roles
from erp.models import Invoice, SalesOrder
from tests.actions.conftest import as_staff, texts, tracker, verified

ROLES = ("sales", "warehouse", "finance", "support", "admin")
# Who may read what (the table): admin everything.
MAY_READ = {
    "orders": {"sales", "support", "admin"},
    "invoices": {"finance", "admin"},
}


def _order_case(db: Session) -> tuple[list[Any], dict[str, Any], str]:
    order = db.scalars(select(SalesOrder).where(SalesOrder.status == "shipped").limit(1)).one()
    slots = {"order_number": order.order_number, **verified(order.customer_id, "staff")}
    return [ValidateOrderForm(), ActionOrderStatus()], slots, "orders"


def _invoice_case(db: Session) -> tuple[list[Any], dict[str, Any], str]:
    invoice = db.scalars(select(Invoice).limit(1)).one()
    slots = {"invoice_number": invoice.invoice_number, **verified(invoice.customer_id, "staff")}
    return [ValidateInvoiceForm(), ActionInvoiceStatus(), ValidateUnpaidInvoicesForm(),
            ActionListUnpaidInvoices()], slots, "invoices"  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", [_order_case, _invoice_case], ids=["orders", "invoices"])
async def test_each_role_reads_its_areas_and_is_told_which_role_reads_the_others(
    erp_db: Session, domain: dict, role: str, case: Any
) -> None:
    actions, slots, area = case(erp_db)
    for action in actions:
        dispatcher = CollectingDispatcher()
        loop = (
            {"active_loop": "order_form"} if isinstance(action, PrivateFormValidationAction) else {}
        )
        state = as_staff(tracker(slots, **loop), roles=(role,))
        events = await action.run(dispatcher, state, domain)
        reply = texts(dispatcher)
        if role in MAY_READ[area]:
            assert "your roles" not in reply, (action.name(), role, reply)
        else:
            assert reply == refusal(AREAS[area], frozenset({role})), (action.name(), reply)
            needed = sorted(MAY_READ[area] - {"admin"})
            assert all(name in reply for name in needed) and f"your roles: {role}" in reply
            if isinstance(action, PrivateFormValidationAction):  # the form ends
                assert any(e["event"] == "active_loop" and e["name"] is None for e in events)
            else:
                assert isinstance(action, AnswerAction)


async def test_staff_without_a_role_are_refused_records(erp_db: Session, domain: dict) -> None:
    actions, slots, _ = _order_case(erp_db)
    dispatcher = CollectingDispatcher()
    await actions[1].run(dispatcher, as_staff(tracker(slots), roles=()), domain)
    assert "your roles: none" in texts(dispatcher)


def test_roles_only_count_for_staff_and_unknown_names_are_dropped() -> None:
    claimed = tracker(metadata={"role": "customer", "roles": ["admin"]})
    assert staff_roles(claimed) == frozenset()
    staff = tracker(metadata={"role": "staff", "roles": ["finance", "root", 7, "admin "]})
    assert staff_roles(staff) == {"finance"}
    assert staff_roles(tracker(metadata={"role": "staff", "roles": "admin"})) == frozenset()


def test_the_audit_trail_is_for_admins_only() -> None:
    assert AREAS["audit"].allows(frozenset({"admin"}))
    for role in ROLES[:-1]:
        assert not AREAS["audit"].allows(frozenset({role}))
    assert "the admin role" in refusal(AREAS["audit"], frozenset({"finance"}))

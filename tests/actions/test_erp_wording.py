"""ERP answers in the generator's words, only when grounded and complete."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import ActionOrderStatus
from erp import orders
from erp.models import SalesOrder
from models.erp_facts import describe_order
from tests.actions.conftest import texts, tracker, verified
from tests.models.fakes import ScriptedGenerator

OWNERS: dict[str, int] = {}


def shipped(db: Session) -> orders.OrderStatus:
    order = db.scalars(select(SalesOrder).where(SalesOrder.status == "shipped").limit(1)).one()
    OWNERS[order.order_number] = order.customer_id
    return orders.get_order_status(order.order_number, customer_id=order.customer_id, session=db)


async def answer(status: orders.OrderStatus, domain: dict) -> str:
    dispatcher = CollectingDispatcher()
    owner = OWNERS[status.order_number]
    slots = {"order_number": status.order_number, **verified(owner)}
    await ActionOrderStatus().run(dispatcher, tracker(slots), domain)
    return texts(dispatcher)


async def test_grounded_complete_wording_is_used(
    erp_db: Session, model: ScriptedGenerator, domain: dict
) -> None:
    status = shipped(erp_db)
    assert status.shipment is not None
    model.answer = (
        f"Good news: order {status.order_number} has shipped with {status.shipment.carrier}; "
        f"the tracking number is {status.shipment.tracking_number}."
    )
    assert await answer(status, domain) == model.answer
    assert f"order number: {status.order_number}" in model.prompts[0]


async def test_an_invented_delivery_date_gets_the_template(
    erp_db: Session, model: ScriptedGenerator, domain: dict
) -> None:
    status = shipped(erp_db)
    assert status.shipment is not None
    model.answer = (
        f"Order {status.order_number} has shipped, tracking {status.shipment.tracking_number}, "
        "and arrives on 31 December 2099."
    )
    assert await answer(status, domain) == describe_order(status)


async def test_wording_without_the_tracking_number_gets_the_template(
    erp_db: Session, model: ScriptedGenerator, domain: dict
) -> None:
    status = shipped(erp_db)
    model.answer = f"Order {status.order_number} has shipped."
    assert await answer(status, domain) == describe_order(status)

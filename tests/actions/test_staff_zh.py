"""Staff refusals in Chinese (staff may write Chinese in Slack): which role reads an area,
and the roles held, named as configured and glossed."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders import ActionOrderStatus
from actions.staff import AREAS, refusal
from erp.models import SalesOrder
from i18n.texts import speaking
from tests.actions.conftest import as_staff, texts, tracker, verified


def test_each_area_is_refused_in_chinese_naming_the_roles() -> None:
    with speaking("zh"):
        assert refusal(AREAS["orders"], frozenset({"warehouse", "finance"})) == (
            "客户的订单和配送信息仅限销售（sales）或客服（support）角色（或管理员 admin）查看；"
            "您的角色：财务（finance）、仓库（warehouse）。请找有该角色的同事帮忙，或请管理员为您授权。"
        )
        assert refusal(AREAS["audit"], frozenset()) == (
            "审计记录仅限管理员（admin）角色查看；您的角色：无。请找有该角色的同事帮忙，或请管理员为您授权。"
        )
    # English stays as it was.
    assert refusal(AREAS["supply"], frozenset({"sales"})) == (
        "Stock forecasts, reorder points and purchase orders are for the warehouse role (or "
        "admin); your roles: sales. Ask a colleague who has it, or an admin to grant it to you."
    )


async def test_a_staff_member_asking_in_chinese_is_refused_in_chinese(
    erp_db: Session, domain: dict
) -> None:
    order = erp_db.scalars(select(SalesOrder).limit(1)).one()
    slots = {"order_number": order.order_number, **verified(order.customer_id, "staff")}
    dispatcher = CollectingDispatcher()
    with speaking("zh"):
        await ActionOrderStatus().run(
            dispatcher, as_staff(tracker(slots), roles=("warehouse",)), domain
        )
    assert texts(dispatcher).startswith(
        "客户的订单和配送信息仅限销售（sales）或客服（support）角色"
    )
    assert "您的角色：仓库（warehouse）。" in texts(dispatcher)

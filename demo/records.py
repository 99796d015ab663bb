"""Records of the demo ERP to try the bot with, picked the same way by the benchmarks and the
end-to-end tests."""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from erp.models import StockLevel


def in_stock_everywhere(db: Session | Connection, *, offset: int = 0) -> tuple[str, int]:
    """The ``offset``-th SKU (by code) available in every warehouse, and its total available.

    Raises:
        sqlalchemy.exc.NoResultFound: No (or no ``offset``-th) such SKU.
    """
    sku, available = db.execute(
        select(StockLevel.sku, func.sum(StockLevel.on_hand - StockLevel.reserved))
        .group_by(StockLevel.sku)
        .having(func.min(StockLevel.on_hand - StockLevel.reserved) > 0)
        .order_by(StockLevel.sku)
        .offset(offset)
        .limit(1)
    ).one()
    return str(sku), int(available)

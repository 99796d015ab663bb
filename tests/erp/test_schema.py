"""The schema has the exact tables and columns other parts of the project read."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, insert, inspect
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from erp.models import SalesOrder

EXPECTED_COLUMNS = {
    "customers": {"id", "name", "email", "postcode", "phone"},
    "products": {"sku", "name", "category", "unit_price", "description"},
    "warehouses": {"code", "name", "city"},
    "stock_levels": {"id", "sku", "warehouse_code", "on_hand", "reserved", "reorder_point"},
    "purchase_orders": {"po_number", "sku", "warehouse_code", "quantity", "eta"},
    "sales_orders": {
        "order_number",
        "customer_id",
        "status",
        "order_date",
        "total",
        "delivery_street",
        "delivery_postcode",
        "delivery_country",
    },
    "assistant_writes": {
        "key",
        "kind",
        "record",
        "customer",
        "actor",
        "outcome",
        "detail",
        "created_at",
    },
    "order_lines": {"id", "order_number", "sku", "quantity", "unit_price"},
    "shipments": {
        "id",
        "order_number",
        "carrier",
        "tracking_number",
        "shipped_at",
        "estimated_delivery",
        "delivered_at",
    },
    "invoices": {
        "invoice_number",
        "order_number",
        "customer_id",
        "status",
        "issue_date",
        "due_date",
        "total",
        "amount_paid",
        "currency",
    },
    "payments": {"id", "invoice_number", "amount", "paid_at", "method"},
}


def test_tables_and_columns_are_exact(erp_engine: Engine) -> None:
    inspector = inspect(erp_engine)
    assert set(inspector.get_table_names()) >= set(EXPECTED_COLUMNS)
    for table, columns in EXPECTED_COLUMNS.items():
        assert {c["name"] for c in inspector.get_columns(table)} == columns, table


def test_lookup_columns_are_indexed(erp_engine: Engine) -> None:
    inspector = inspect(erp_engine)
    for table, column in [
        ("customers", "email"),
        ("sales_orders", "customer_id"),
        ("invoices", "customer_id"),
        ("invoices", "order_number"),
        ("order_lines", "order_number"),
        ("shipments", "order_number"),
        ("payments", "invoice_number"),
    ]:
        indexed = [i["column_names"] for i in inspector.get_indexes(table)]
        unique = [u["column_names"] for u in inspector.get_unique_constraints(table)]
        assert [column] in indexed + unique, f"{table}.{column} is not indexed"


def test_foreign_keys_are_real(erp_engine: Engine) -> None:
    inspector = inspect(erp_engine)
    referred = {fk["referred_table"] for fk in inspector.get_foreign_keys("invoices")}
    assert referred == {"sales_orders", "customers"}


def test_check_constraint_rejects_unknown_order_status(erp_engine: Engine) -> None:
    # PyMySQL raises MariaDB's CHECK failure (error 4025) as an OperationalError.
    with Session(erp_engine) as session, pytest.raises((IntegrityError, OperationalError)):
        session.execute(
            insert(SalesOrder).values(
                order_number="SO-199999",
                customer_id=1,
                status="lost",
                order_date=date(2026, 1, 1),
                total=1,
            )
        )
        session.flush()


def test_foreign_key_rejects_unknown_customer(erp_engine: Engine) -> None:
    with Session(erp_engine) as session, pytest.raises(IntegrityError):
        session.execute(
            insert(SalesOrder).values(
                order_number="SO-199998",
                customer_id=999_999,
                status="pending",
                order_date=date(2026, 1, 1),
                total=1,
            )
        )
        session.flush()

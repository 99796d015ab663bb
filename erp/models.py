"""SQLAlchemy models of the ERP schema: customers, products, stock, orders and invoices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ORDER_STATUSES = ("pending", "confirmed", "picking", "shipped", "delivered", "cancelled", "on_hold")
INVOICE_STATUSES = ("open", "paid", "overdue", "partially_paid", "void")
UNPAID_INVOICE_STATUSES = ("open", "overdue", "partially_paid")
PAYMENT_METHODS = ("bank_transfer", "card", "direct_debit")
CURRENCIES = ("EUR", "GBP")

Money = Numeric(12, 2)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """Return a CHECK expression limiting ``column`` to ``values`` (constants, not user input)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so constraints get the same names everywhere."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Customer(Base):
    """A company that buys from us; identified in chat by email and postcode."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    postcode: Mapped[str] = mapped_column(String(12), index=True)
    phone: Mapped[str] = mapped_column(String(32))


class Product(Base):
    """A stocked item, keyed by SKU such as ``WID-1001``."""

    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    category: Mapped[str] = mapped_column(String(40), index=True)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    description: Mapped[str] = mapped_column(Text)


class Warehouse(Base):
    """A distribution centre holding stock."""

    __tablename__ = "warehouses"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    city: Mapped[str] = mapped_column(String(80))


class StockLevel(Base):
    """How many units of one product one warehouse holds and has promised to orders."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("sku", "warehouse_code"),
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    warehouse_code: Mapped[str] = mapped_column(ForeignKey("warehouses.code"), index=True)
    on_hand: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer)
    reorder_point: Mapped[int] = mapped_column(Integer)


class PurchaseOrder(Base):
    """Stock ordered from a supplier, expected at a warehouse on ``eta``."""

    __tablename__ = "purchase_orders"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    po_number: Mapped[str] = mapped_column(String(16), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    warehouse_code: Mapped[str] = mapped_column(ForeignKey("warehouses.code"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    eta: Mapped[date] = mapped_column(Date, index=True)


class SalesOrder(Base):
    """A customer's order, numbered like ``SO-100123``."""

    __tablename__ = "sales_orders"
    __table_args__ = (CheckConstraint(_one_of("status", ORDER_STATUSES), name="status"),)

    order_number: Mapped[str] = mapped_column(String(12), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    order_date: Mapped[date] = mapped_column(Date, index=True)
    total: Mapped[Decimal] = mapped_column(Money)
    # Where it goes: a street line with the town, a postcode, an ISO country code.
    delivery_street: Mapped[str | None] = mapped_column(String(120), nullable=True)
    delivery_postcode: Mapped[str | None] = mapped_column(String(12), nullable=True)
    delivery_country: Mapped[str | None] = mapped_column(String(2), nullable=True)


class OrderLine(Base):
    """One product on a sales order, at the price charged."""

    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_number: Mapped[str] = mapped_column(ForeignKey("sales_orders.order_number"), index=True)
    sku: Mapped[str] = mapped_column(ForeignKey("products.sku"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)


class Shipment(Base):
    """The parcel carrying a shipped or delivered order."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_number: Mapped[str] = mapped_column(
        ForeignKey("sales_orders.order_number"), unique=True, index=True
    )
    carrier: Mapped[str] = mapped_column(String(20))
    tracking_number: Mapped[str] = mapped_column(String(40), index=True)
    shipped_at: Mapped[datetime] = mapped_column(DateTime)
    estimated_delivery: Mapped[date] = mapped_column(Date)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Invoice(Base):
    """A bill for an order, numbered like ``INV-200123``."""

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(_one_of("status", INVOICE_STATUSES), name="status"),
        CheckConstraint(_one_of("currency", CURRENCIES), name="currency"),
    )

    invoice_number: Mapped[str] = mapped_column(String(12), primary_key=True)
    order_number: Mapped[str] = mapped_column(ForeignKey("sales_orders.order_number"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    total: Mapped[Decimal] = mapped_column(Money)
    amount_paid: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))


class Payment(Base):
    """Money received against an invoice."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint(_one_of("method", PAYMENT_METHODS), name="method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    invoice_number: Mapped[str] = mapped_column(ForeignKey("invoices.invoice_number"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    paid_at: Mapped[datetime] = mapped_column(DateTime)
    method: Mapped[str] = mapped_column(String(20))


class AssistantWrite(Base):
    """A change the assistant made in the ERP, once per idempotency key.

    The key is claimed in the same transaction as the change itself, so a confirmation
    delivered twice (a retried webhook, a double click) changes the ERP once, and the second
    delivery reads the first one's outcome. No personal data: record numbers, keys and
    outcomes only.
    """

    __tablename__ = "assistant_writes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    record: Mapped[str] = mapped_column(String(40), index=True)
    customer: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class AssistantReturn(Base):
    """A return (RMA) the assistant authorised, for the ERP's people to receive against.

    Kept in the ERP database beside ``assistant_writes`` (and written in the same
    transaction as its key), as the assistant's own table: an ERP without returns of its own
    imports them from here.
    """

    __tablename__ = "assistant_returns"

    rma: Mapped[str] = mapped_column(String(16), primary_key=True)
    order_number: Mapped[str] = mapped_column(String(40), index=True)
    customer: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    valid_until: Mapped[date] = mapped_column(Date)


class AssistantReturnLine(Base):
    """What one RMA takes back: a product and how many."""

    __tablename__ = "assistant_return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rma: Mapped[str] = mapped_column(ForeignKey("assistant_returns.rma"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)

"""Who the simulated users are and what they ask about: demo customers with their own orders
and invoices, and the catalogue's products, read once from the ERP into a JSON file.

Example:
    >>> cast = load_cast(make_engine())
    >>> write_cast(cast, Path("var/bench/load/cast.json"))
    >>> read_cast(Path("var/bench/load/cast.json")).people[0].orders[0]
    'SO-100004'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from erp.models import Customer, Invoice, Product, SalesOrder

# Enough distinct customers that 100 users rarely share one (a shared one is still valid).
PEOPLE = 300


@dataclass(frozen=True)
class Person:
    """A demo customer: what they prove who they are with, and their own records."""

    email: str
    postcode: str
    orders: tuple[str, ...]
    invoices: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    """A catalogue product as a customer may name it."""

    sku: str
    name: str


@dataclass(frozen=True)
class Cast:
    """Everything the conversation scripts draw from."""

    people: tuple[Person, ...]
    products: tuple[Item, ...]


def load_cast(engine: Engine, *, people: int = PEOPLE) -> Cast:
    """The first ``people`` customers (by id) with at least one order and one invoice, and
    every product.

    Raises:
        ValueError: the database holds no such customer or no product (not seeded?).
    """
    with Session(engine) as session:
        orders: dict[int, list[str]] = {}
        for customer_id, number in session.execute(
            select(SalesOrder.customer_id, SalesOrder.order_number).order_by(
                SalesOrder.order_number
            )
        ):
            orders.setdefault(customer_id, []).append(number)
        invoices: dict[int, list[str]] = {}
        for customer_id, number in session.execute(
            select(Invoice.customer_id, Invoice.invoice_number).order_by(Invoice.invoice_number)
        ):
            invoices.setdefault(customer_id, []).append(number)
        chosen: list[Person] = []
        for customer in session.scalars(select(Customer).order_by(Customer.id)):
            if customer.id in orders and customer.id in invoices:
                chosen.append(
                    Person(
                        email=customer.email,
                        postcode=customer.postcode,
                        orders=tuple(orders[customer.id]),
                        invoices=tuple(invoices[customer.id]),
                    )
                )
            if len(chosen) >= people:
                break
        products = tuple(
            Item(sku, name)
            for sku, name in session.execute(
                select(Product.sku, Product.name).order_by(Product.sku)
            )
        )
    if not chosen or not products:
        raise ValueError(
            f"the ERP holds {len(chosen)} customers with orders and invoices and "
            f"{len(products)} products: seed it first (`python -m demo seed`)"
        )
    return Cast(tuple(chosen), products)


def write_cast(cast: Cast, path: Path) -> None:
    """Save ``cast`` as JSON for the locust process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(cast)), encoding="utf-8")


def read_cast(path: Path) -> Cast:
    """The cast :func:`write_cast` saved.

    Raises:
        ValueError: the file is not a cast.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        people = tuple(
            Person(p["email"], p["postcode"], tuple(p["orders"]), tuple(p["invoices"]))
            for p in data["people"]
        )
        products = tuple(Item(p["sku"], p["name"]) for p in data["products"])
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a load-test cast: {error!r}") from None
    if not people or not products:
        raise ValueError(f"{path} has no people or no products")
    return Cast(people, products)

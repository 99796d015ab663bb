"""Deterministic demo data for a believable industrial and office supplies wholesaler."""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session
from tqdm import tqdm

from erp import catalogue as cat
from erp.db import create_schema, drop_schema, unavailable_on_failure
from erp.models import (
    Base,
    Customer,
    Invoice,
    OrderLine,
    Payment,
    Product,
    PurchaseOrder,
    SalesOrder,
    Shipment,
    StockLevel,
    Warehouse,
)

BASE_CUSTOMERS = 1000
BASE_PRODUCTS = 500
BASE_ORDERS = 20000
MIN_CUSTOMERS = 20
MIN_PRODUCTS = 30
MIN_ORDERS = 200
MAX_ORDERS = 99_999
FIRST_ORDER = 100_001
FIRST_INVOICE = 200_001
FIRST_PO = 40_001
BATCH_SIZE = 5000
CENT = Decimal("0.01")

Row = dict[str, Any]


@dataclass(frozen=True)
class SeedSummary:
    """How many rows :func:`seed` wrote to each table."""

    customers: int
    products: int
    warehouses: int
    stock_levels: int
    purchase_orders: int
    sales_orders: int
    order_lines: int
    shipments: int
    invoices: int
    payments: int


@dataclass(frozen=True)
class SeedSizes:
    """Row targets for the scaled tables."""

    customers: int
    products: int
    orders: int


def seed_sizes(scale: float) -> SeedSizes:
    """Return how many customers, products and orders :func:`seed` creates at ``scale``.

    Raises:
        ValueError: ``scale`` is not positive or would need more than 99,999 orders.
    """
    if not scale > 0:
        raise ValueError(f"scale must be greater than 0, got {scale}")
    orders = max(MIN_ORDERS, round(BASE_ORDERS * scale))
    if orders > MAX_ORDERS:
        raise ValueError(
            f"scale must be at most {MAX_ORDERS / BASE_ORDERS:g} (order numbers have six "
            f"digits), got {scale}"
        )
    return SeedSizes(
        customers=max(MIN_CUSTOMERS, round(BASE_CUSTOMERS * scale)),
        products=max(MIN_PRODUCTS, round(BASE_PRODUCTS * scale)),
        orders=orders,
    )


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _ascii_slug(text: str) -> str:
    """Turn a company name into a domain label: ``Krüger Metallbau`` -> ``krueger-metallbau``."""
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, plain).replace(umlaut.upper(), plain.capitalize())
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _weighted(rng: random.Random, options: Sequence[tuple[str, int]]) -> str:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


@dataclass
class _Generator:
    """Builds every table's rows in memory from one seeded random generator."""

    rng: random.Random
    today: date
    sizes: SeedSizes
    customers: list[Row] = field(default_factory=list)
    products: list[Row] = field(default_factory=list)
    stock_levels: list[Row] = field(default_factory=list)
    purchase_orders: list[Row] = field(default_factory=list)
    orders: list[Row] = field(default_factory=list)
    lines: list[Row] = field(default_factory=list)
    shipments: list[Row] = field(default_factory=list)
    invoices: list[Row] = field(default_factory=list)
    payments: list[Row] = field(default_factory=list)
    # Per-customer traits that shape orders and payments but are not stored.
    traits: dict[int, dict[str, Any]] = field(default_factory=dict)
    # The seed itself, for generators of their own (delivery addresses).
    seed_value: int = 0

    def run(self) -> None:
        self._customers()
        self._products()
        self._stock()
        self._orders()
        self._shipments()
        self._invoices()

    # Customers -----------------------------------------------------------------------------

    def _company_name(self, country: str) -> str:
        rng = self.rng
        surname = rng.choice(cat.SURNAMES[country])
        surname = surname[0].upper() + surname[1:]
        industry = rng.choice(cat.INDUSTRIES[country])
        form = _weighted(rng, cat.LEGAL_FORMS[country])
        pattern = rng.random()
        if pattern < 0.45:
            base = f"{surname} {industry}"
        elif pattern < 0.75:
            base = f"{rng.choice(cat.REGIONS[country])} {industry}"
        else:
            other = rng.choice(cat.SURNAMES[country])
            base = f"{surname} & {other[0].upper() + other[1:]}"
        return f"{base} {form}"

    def _postcode(self, country: str) -> str:
        rng = self.rng
        if country == "UK":
            area, low, high = rng.choice(cat.UK_POSTCODE_AREAS)
            letters = "".join(rng.choices(cat.UK_INWARD_LETTERS, k=2))
            return f"{area}{rng.randint(low, high)} {rng.randint(1, 9)}{letters}"
        if country == "NL":
            letters = "".join(rng.choices(cat.NL_POSTCODE_LETTERS, k=2))
            return f"{rng.randint(1011, 9999)} {letters}"
        return f"{rng.randint(1067, 99998):05d}"

    def _phone(self, country: str) -> str:
        rng = self.rng
        if country == "UK":
            return f"+44 {rng.choice(cat.UK_PHONE_PREFIXES)}{rng.randint(0, 999):03d}"
        if country == "NL":
            digits = f"{rng.randint(0, 9_999_999):07d}"
            return f"+31 {rng.choice(cat.NL_PHONE_AREAS)} {digits[:3]} {digits[3:]}"
        return f"+49 {rng.choice(cat.DE_PHONE_AREAS)} {rng.randint(100_000, 9_999_999)}"

    def _customers(self) -> None:
        rng = self.rng
        names: set[str] = set()
        emails: set[str] = set()
        for customer_id in range(1, self.sizes.customers + 1):
            country = _weighted(rng, (("UK", 50), ("NL", 25), ("DE", 25)))
            name = self._company_name(country)
            for _ in range(50):
                if name not in names:
                    break
                name = self._company_name(country)
            else:
                name = f"{name} ({customer_id})"
            names.add(name)
            stem = re.sub(r"\s+(Ltd|PLC|LLP|B\.V\.|GmbH & Co\. KG|GmbH|AG)$", "", name)
            domain = f"{_ascii_slug(stem.replace('&', 'and'))}.{cat.EMAIL_TLDS[country]}"
            if rng.random() < 0.6:
                first = rng.choice(cat.FIRST_NAMES[country])
                last = _ascii_slug(rng.choice(cat.SURNAMES[country])).replace("-", "")
                local = f"{first}.{last}"
            else:
                local = rng.choice(cat.ROLE_MAILBOXES[country])
            email = f"{local}@{domain}"
            counter = 2
            while email in emails:
                email = f"{local}{counter}@{domain}"
                counter += 1
            emails.add(email)
            self.customers.append(
                {
                    "id": customer_id,
                    "name": name,
                    "email": email,
                    "postcode": self._postcode(country),
                    "phone": self._phone(country),
                }
            )
            self.traits[customer_id] = {
                "country": country,
                "currency": cat.CURRENCY[country],
                "weight": rng.paretovariate(1.3),
                "terms": _weighted(rng, (("14", 20), ("30", 65), ("60", 15))),
                "payer": _weighted(rng, (("prompt", 70), ("late", 22), ("bad", 8))),
                "method": _weighted(
                    rng, (("bank_transfer", 60), ("card", 15), ("direct_debit", 25))
                ),
            }

    # Products and stock -------------------------------------------------------------------

    def _category_counts(self) -> list[int]:
        """Split the product count over categories in proportion to their name pools."""
        total = self.sizes.products
        pools = [len(c.names) for c in cat.CATEGORIES]
        shares = [total * p / sum(pools) for p in pools]
        counts = [max(1, int(s)) for s in shares]
        by_remainder = sorted(range(len(pools)), key=lambda i: shares[i] - int(shares[i]))
        while sum(counts) < total:
            counts[by_remainder.pop()] += 1
            by_remainder = by_remainder or list(range(len(pools)))
        while sum(counts) > total:
            largest = max(range(len(counts)), key=lambda i: counts[i])
            counts[largest] -= 1
        return counts

    def _products(self) -> None:
        rng = self.rng
        for category, count in zip(cat.CATEGORIES, self._category_counts(), strict=True):
            featured = cat.FEATURED.get(category.code)
            pool = [n for n in category.names if n != featured]
            rng.shuffle(pool)
            mark = 2
            while len(pool) < count:
                pool += [f"{n} Mk {mark}" for n in category.names]
                mark += 1
            names = ([featured] if featured else []) + pool[: count - (1 if featured else 0)]
            for index, name in enumerate(names):
                low, high = category.min_price, category.max_price
                price = low * (high / low) ** rng.random()
                price = round(price) - 0.01 if price > 20 else round(price, 1) - 0.01
                self.products.append(
                    {
                        "sku": f"{category.code}-{1001 + index}",
                        "name": name,
                        "category": category.name,
                        "unit_price": _money(max(price, 0.99)),
                        "description": f"{name}. {category.blurb}.",
                    }
                )

    def _stock(self) -> None:
        rng = self.rng
        featured = set(cat.FEATURED.values())
        candidates = [p["sku"] for p in self.products if p["name"] not in featured]
        out_count = max(2, round(len(self.products) * 0.05))
        low_count = max(2, round(len(self.products) * 0.12))
        chosen = rng.sample(candidates, out_count + low_count)
        out_of_stock, low = set(chosen[:out_count]), set(chosen[out_count:])
        incoming: list[tuple[date, str, str, int]] = []
        for product in self.products:
            sku, price = product["sku"], float(product["unit_price"])
            if price < 10:
                reorder_point = rng.randint(10, 40) * 10
            elif price < 50:
                reorder_point = rng.randint(6, 24) * 5
            elif price < 200:
                reorder_point = rng.randint(10, 40)
            else:
                reorder_point = rng.randint(3, 15)
            for code, _, _ in cat.WAREHOUSES:
                if sku in out_of_stock:
                    on_hand = 0
                elif sku in low:
                    on_hand = rng.randint(0, reorder_point - 1)
                elif rng.random() < 0.08:
                    on_hand = 0
                else:
                    on_hand = round(reorder_point * rng.uniform(1.2, 4.0))
                reserved = 0
                if on_hand and rng.random() < 0.3:
                    reserved = (
                        on_hand if rng.random() < 0.1 else rng.randint(1, max(1, on_hand // 3))
                    )
                self.stock_levels.append(
                    {
                        "sku": sku,
                        "warehouse_code": code,
                        "on_hand": on_hand,
                        "reserved": reserved,
                        "reorder_point": reorder_point,
                    }
                )
            quantity = max(10, round(reorder_point * rng.randint(2, 5), -1))
            if sku in out_of_stock:
                for code in rng.sample([w[0] for w in cat.WAREHOUSES], rng.randint(1, 2)):
                    incoming.append(
                        (self.today + timedelta(rng.randint(3, 28)), sku, code, quantity)
                    )
            elif (sku in low and rng.random() < 0.6) or rng.random() < 0.04:
                code = rng.choice(cat.WAREHOUSES)[0]
                incoming.append((self.today + timedelta(rng.randint(2, 42)), sku, code, quantity))
        for number, (eta, sku, code, quantity) in enumerate(incoming, start=FIRST_PO):
            self.purchase_orders.append(
                {
                    "po_number": f"PO-{number}",
                    "sku": sku,
                    "warehouse_code": code,
                    "quantity": quantity,
                    "eta": eta,
                }
            )

    # Orders --------------------------------------------------------------------------------

    def _status_for_age(self, age: int) -> str:
        """Pick a believable status for an order placed ``age`` days ago."""
        table: tuple[tuple[str, int], ...]
        if age == 0:
            table = (
                ("pending", 55),
                ("confirmed", 25),
                ("picking", 8),
                ("on_hold", 8),
                ("cancelled", 4),
            )
        elif age == 1:
            table = (
                ("pending", 15),
                ("confirmed", 35),
                ("picking", 30),
                ("shipped", 10),
                ("on_hold", 5),
                ("cancelled", 5),
            )
        elif age <= 3:
            table = (
                ("confirmed", 10),
                ("picking", 25),
                ("shipped", 50),
                ("delivered", 5),
                ("on_hold", 5),
                ("cancelled", 5),
            )
        elif age <= 7:
            table = (
                ("picking", 5),
                ("shipped", 40),
                ("delivered", 45),
                ("on_hold", 5),
                ("cancelled", 5),
            )
        elif age <= 30:
            table = (("shipped", 3), ("delivered", 91), ("on_hold", 2), ("cancelled", 4))
        else:
            table = (("delivered", 955), ("cancelled", 40), ("on_hold", 5))
        return _weighted(self.rng, table)

    def _order_age(self) -> int:
        rng = self.rng
        while True:
            # A growing business: a tenth of orders land in the last fortnight.
            age = rng.randint(0, 13) if rng.random() < 0.1 else rng.randint(0, 364)
            weekday = (self.today - timedelta(age)).weekday()
            if weekday < 5 or rng.random() < 0.2:
                return age

    def _orders(self) -> None:
        rng = self.rng
        customer_ids = [c["id"] for c in self.customers]
        cum_customer = _cumulative([self.traits[i]["weight"] for i in customer_ids])
        skus = [p["sku"] for p in self.products]
        prices = {p["sku"]: p["unit_price"] for p in self.products}
        cum_product = _cumulative([rng.paretovariate(1.1) for _ in skus])
        drafts: list[tuple[int, int, int, str]] = []
        for index in range(self.sizes.orders):
            age = self._order_age()
            customer_id = rng.choices(customer_ids, cum_weights=cum_customer)[0]
            drafts.append((age, index, customer_id, self._status_for_age(age)))
        drafts.sort(key=lambda d: (-d[0], d[1]))
        for number, (age, _, customer_id, status) in enumerate(drafts, start=FIRST_ORDER):
            order_number = f"SO-{number}"
            line_count = rng.choices((1, 2, 3, 4, 5), weights=(35, 25, 20, 12, 8))[0]
            chosen: list[str] = []
            while len(chosen) < min(line_count, len(skus)):
                sku = rng.choices(skus, cum_weights=cum_product)[0]
                if sku not in chosen:
                    chosen.append(sku)
            total = Decimal(0)
            for sku in chosen:
                price = prices[sku]
                if price < 10:
                    quantity = rng.choice((10, 20, 25, 50, 100))
                elif price < 50:
                    quantity = rng.randint(1, 20)
                elif price < 200:
                    quantity = rng.randint(1, 8)
                else:
                    quantity = rng.randint(1, 3)
                total += price * quantity
                self.lines.append(
                    {
                        "order_number": order_number,
                        "sku": sku,
                        "quantity": quantity,
                        "unit_price": price,
                    }
                )
            self.orders.append(
                {
                    "order_number": order_number,
                    "customer_id": customer_id,
                    "status": status,
                    "order_date": self.today - timedelta(age),
                    "total": _money(total),
                    **self._delivery_address(order_number, customer_id),
                }
            )
        self._ensure_every_order_status()

    def _delivery_address(self, order_number: str, customer_id: int) -> dict[str, str]:
        """The customer's address, a street of their country: drawn from a generator of its
        own, so adding addresses changed nothing else the seed makes."""
        own = random.Random(f"{self.seed_value}:{order_number}")
        country = self.traits[customer_id]["country"]
        customer = self.customers[customer_id - 1]
        street = f"{own.randint(1, 240)} {own.choice(cat.STREETS[country])}"
        return {
            "delivery_street": f"{street}, {own.choice(cat.TOWNS[country])}",
            "delivery_postcode": customer["postcode"],
            "delivery_country": cat.COUNTRY_CODES[country],
        }

    def _ensure_every_order_status(self) -> None:
        """Small seeds may miss a rare status; move one order of a common status into it."""
        eligible = {
            "pending": (0, 1),
            "confirmed": (0, 3),
            "picking": (0, 3),
            "on_hold": (0, 7),
            "shipped": (1, 7),
            "delivered": (5, 400),
            "cancelled": (0, 400),
        }
        counts = Counter(o["status"] for o in self.orders)
        for status, (low, high) in eligible.items():
            if counts[status]:
                continue
            for order in reversed(self.orders):
                age = (self.today - order["order_date"]).days
                if low <= age <= high and counts[order["status"]] > 1:
                    counts[order["status"]] -= 1
                    order["status"] = status
                    counts[status] += 1
                    break

    # Shipments -----------------------------------------------------------------------------

    def _tracking_number(self, carrier: str) -> str:
        rng = self.rng

        def digits(n: int) -> str:
            return "".join(rng.choices("0123456789", k=n))

        if carrier == "UPS":
            shipper = "".join(rng.choices("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", k=6))
            return f"1Z{shipper}{rng.choice(('01', '02', '03', '68'))}{digits(8)}"
        if carrier == "Royal Mail":
            body = digits(8)
            weighted = sum(int(d) * w for d, w in zip(body, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
            check = 11 - weighted % 11
            check = {10: 0, 11: 5}.get(check, check)
            return f"{''.join(rng.choices('ABCDEFGHJKLMNPRSTUVWXYZ', k=2))}{body}{check}GB"
        if carrier == "DPD":
            return "1550" + digits(10)
        if carrier == "FedEx":
            return digits(12)
        return digits(10)

    def _moment(self, day: date, first_hour: int, last_hour: int) -> datetime:
        return datetime.combine(
            day, time(self.rng.randint(first_hour, last_hour), self.rng.randint(0, 59))
        )

    def _shipments(self) -> None:
        rng = self.rng
        for order in self.orders:
            status = order["status"]
            if status not in ("shipped", "delivered"):
                continue
            age = (self.today - order["order_date"]).days
            country = self.traits[order["customer_id"]]["country"]
            carrier = _weighted(rng, cat.CARRIERS[country])
            transit = cat.TRANSIT_DAYS[carrier]
            if status == "shipped":
                ship_offset = min(age, rng.randint(0, 2))
            else:
                ship_offset = rng.randint(0, max(0, min(2, age - 1)))
            shipped_day = order["order_date"] + timedelta(ship_offset)
            delivered_at = None
            if status == "delivered":
                took = rng.randint(1, max(1, min(transit + 1, (self.today - shipped_day).days)))
                delivered_at = self._moment(shipped_day + timedelta(took), 8, 18)
            self.shipments.append(
                {
                    "order_number": order["order_number"],
                    "carrier": carrier,
                    "tracking_number": self._tracking_number(carrier),
                    "shipped_at": self._moment(shipped_day, 7, 17),
                    "estimated_delivery": shipped_day + timedelta(rng.randint(1, transit)),
                    "delivered_at": delivered_at,
                }
            )

    # Invoices and payments -----------------------------------------------------------------

    def _payment_plan(self, invoice: Row, traits: dict[str, Any]) -> list[tuple[Decimal, date]]:
        """Decide when (and how much) this customer pays, then keep what happened by today."""
        rng = self.rng
        total: Decimal = invoice["total"]
        issue, due = invoice["issue_date"], invoice["due_date"]
        terms = (due - issue).days
        payer = traits["payer"]
        if traits["method"] == "direct_debit":
            planned = [(total, due)]
        elif payer == "prompt":
            planned = [(total, issue + timedelta(rng.randint(3, terms)))]
        else:
            late_by = rng.randint(0, 45) if payer == "late" else rng.randint(15, 120)
            pay_day = due + timedelta(late_by)
            if rng.random() < 0.15:
                first = _money(total * Decimal(rng.randint(30, 70)) / 100)
                first_day = issue + timedelta(rng.randint(5, terms + late_by))
                planned = [(first, min(first_day, pay_day)), (total - first, pay_day)]
            elif payer == "bad" and rng.random() < 0.12:
                planned = []
            else:
                planned = [(total, pay_day)]
        return [(amount, day) for amount, day in planned if day <= self.today]

    def _invoices(self) -> None:
        rng = self.rng
        drafts: list[tuple[Row, list[tuple[Decimal, date]]]] = []
        for order in self.orders:
            traits = self.traits[order["customer_id"]]
            cancelled = order["status"] == "cancelled"
            if cancelled and rng.random() >= 0.4:
                continue
            issue = min(self.today, order["order_date"] + timedelta(rng.randint(0, 1)))
            invoice: Row = {
                "order_number": order["order_number"],
                "customer_id": order["customer_id"],
                "status": "void" if cancelled else "open",
                "issue_date": issue,
                "due_date": issue + timedelta(int(traits["terms"])),
                "total": order["total"],
                "currency": traits["currency"],
            }
            plan = [] if cancelled else self._payment_plan(invoice, traits)
            drafts.append((invoice, plan))
        self._ensure_every_invoice_status(drafts)
        drafts.sort(key=lambda d: (d[0]["issue_date"], d[0]["order_number"]))
        for number, (invoice, plan) in enumerate(drafts, start=FIRST_INVOICE):
            invoice["invoice_number"] = f"INV-{number}"
            method = self.traits[invoice["customer_id"]]["method"]
            paid = sum((amount for amount, _ in plan), Decimal(0))
            for amount, day in plan:
                self.payments.append(
                    {
                        "invoice_number": invoice["invoice_number"],
                        "amount": amount,
                        "paid_at": self._moment(day, 8, 17),
                        "method": method,
                    }
                )
            invoice["amount_paid"] = paid
            invoice["status"] = _invoice_status(invoice, paid, self.today)
            self.invoices.append(invoice)

    def _ensure_every_invoice_status(
        self, drafts: list[tuple[Row, list[tuple[Decimal, date]]]]
    ) -> None:
        """Small seeds may miss a rare invoice status; rewrite one paid invoice's history."""

        def statuses() -> Counter[str]:
            return Counter(
                _invoice_status(i, sum((a for a, _ in p), Decimal(0)), self.today)
                for i, p in drafts
            )

        def is_paid(invoice: Row, plan: list[tuple[Decimal, date]]) -> bool:
            return invoice["status"] != "void" and sum(a for a, _ in plan) == invoice["total"]

        if not statuses()["void"]:
            order = next(o for o in self.orders if o["status"] == "cancelled")
            issue = order["order_date"]
            terms = int(self.traits[order["customer_id"]]["terms"])
            drafts.append(
                (
                    {
                        "order_number": order["order_number"],
                        "customer_id": order["customer_id"],
                        "status": "void",
                        "issue_date": issue,
                        "due_date": issue + timedelta(terms),
                        "total": order["total"],
                        "currency": self.traits[order["customer_id"]]["currency"],
                    },
                    [],
                )
            )
        wanted = {
            "open": lambda i: i["due_date"] >= self.today,
            "overdue": lambda i: i["due_date"] < self.today,
            "partially_paid": lambda i: i["issue_date"] < self.today,
        }
        for status, fits in wanted.items():
            if statuses()[status]:
                continue
            for index in range(len(drafts) - 1, -1, -1):
                invoice, plan = drafts[index]
                if is_paid(invoice, plan) and fits(invoice):
                    if status == "partially_paid":
                        half = _money(invoice["total"] / 2)
                        plan = [(half, invoice["issue_date"] + timedelta(1))]
                    else:
                        plan = []
                    drafts[index] = (invoice, plan)
                    break


def _invoice_status(invoice: Row, paid: Decimal, today: date) -> str:
    """Derive an invoice's status from what has been paid by ``today``."""
    if invoice["status"] == "void":
        return "void"
    if paid >= invoice["total"]:
        return "paid"
    if paid > 0:
        return "partially_paid"
    return "overdue" if invoice["due_date"] < today else "open"


def _cumulative(weights: list[float]) -> list[float]:
    running, total = [], 0.0
    for weight in weights:
        total += weight
        running.append(total)
    return running


def _insert(session: Session, model: type[Base], rows: list[Row], *, progress: bool) -> None:
    """Bulk-insert ``rows`` in batches, with a progress bar when asked for."""
    with tqdm(
        total=len(rows), desc=f"{model.__tablename__:<16}", unit="row", disable=not progress
    ) as bar:
        for start in range(0, len(rows), BATCH_SIZE):
            batch = rows[start : start + BATCH_SIZE]
            session.execute(insert(model), batch)
            bar.update(len(batch))


def seed(
    engine: Engine,
    *,
    scale: float = 1.0,
    rng_seed: int = 42,
    today: date | None = None,
    progress: bool = True,
) -> SeedSummary:
    """Drop and recreate the ERP schema, then fill it with demo data.

    The same ``rng_seed`` and ``today`` always produce the same rows.

    Example:
        >>> summary = seed(make_engine("sqlite:///var/erp.db"), scale=0.05, progress=False)
        >>> summary.sales_orders
        1000

    Args:
        engine: Where to write.
        scale: Multiplies 1,000 customers, 500 products and 20,000 orders (with minimums of
            20, 30 and 200).
        rng_seed: Seed of the random generator.
        today: The date the data is "as of" (default: the real today). Orders fall in the
            year before it; purchase orders arrive after it.
        progress: Show tqdm progress bars.

    Returns:
        Row counts per table.

    Raises:
        ValueError: ``scale`` is out of range.
        ErpUnavailable: The database could not be reached.
    """
    sizes = seed_sizes(scale)
    generator = _Generator(
        rng=random.Random(rng_seed), today=today or date.today(), sizes=sizes, seed_value=rng_seed
    )
    generator.run()
    warehouses = [{"code": c, "name": n, "city": city} for c, n, city in cat.WAREHOUSES]
    tables: list[tuple[type[Base], list[Row]]] = [
        (Customer, generator.customers),
        (Product, generator.products),
        (Warehouse, warehouses),
        (StockLevel, generator.stock_levels),
        (PurchaseOrder, generator.purchase_orders),
        (SalesOrder, generator.orders),
        (OrderLine, generator.lines),
        (Shipment, generator.shipments),
        (Invoice, generator.invoices),
        (Payment, generator.payments),
    ]
    drop_schema(engine)
    create_schema(engine)
    with unavailable_on_failure(engine), Session(engine) as session, session.begin():
        for model, rows in tables:
            _insert(session, model, rows, progress=progress)
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the serial sequence behind; move it past them.
            session.execute(
                text("SELECT setval(pg_get_serial_sequence('customers', 'id'), :last)"),
                {"last": len(generator.customers)},
            )
    return SeedSummary(**{model.__tablename__: len(rows) for model, rows in tables})

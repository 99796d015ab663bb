"""What a mapping file says: the assistant's concepts and where each lives in a schema.

A mapping (docs/erp-mapping.md) names, per concept, a table and which of its columns hold the
concept's fields; a field may also be read through a foreign key from another table (a
*lookup*), and an order's or invoice's status is either a column whose values are mapped to
the assistant's vocabulary or derived from whether a date is set. A concept the schema lacks
is declared ``missing`` with a reason the assistant can give. Nothing here touches a
database: :mod:`erp.mapping.resolve` checks a spec against one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from erp.mapping.source import Located, read_located
from erp.models import INVOICE_STATUSES, ORDER_STATUSES

FORMAT_VERSION = 1

# Per concept: the fields it must map, and those it may.
REQUIRED: dict[str, tuple[str, ...]] = {
    "customer": ("key", "name"),
    "order": ("key", "customer", "date"),
    "order_line": ("order", "product", "quantity"),
    "product": ("key", "name"),
    "stock": ("product",),
    "supply": ("product", "quantity"),
    "shipment": ("order", "shipped_date"),
    "invoice": ("key", "customer", "total"),
    "payment": ("amount", "date"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "customer": ("number", "email", "postcode", "phone"),
    "order": ("number", "total", "delivery_street", "delivery_postcode", "delivery_country"),
    "order_line": ("unit_price",),
    "product": ("sku", "description", "price", "category"),
    "stock": (
        "available",
        "on_hand",
        "reserved",
        "warehouse",
        "warehouse_name",
        "city",
        "reorder_point",
    ),
    "supply": ("reference", "eta", "warehouse", "warehouse_name"),
    "shipment": ("carrier", "tracking", "estimated_delivery", "delivered_date"),
    "invoice": ("number", "order", "issue_date", "due_date", "amount_paid", "currency"),
    "payment": ("invoice", "customer", "reference"),
}
CONCEPTS = tuple(REQUIRED)
# Without these the assistant has nothing to answer with.
ESSENTIAL = ("customer", "product")
# Customer fields that can prove who someone is; the mapping's `identity` names two.
# Changes a mapping may let the assistant make (erp/writes.py).
WRITES = ("cancel_order", "change_address", "request_return")
IDENTITY_FACTORS = ("email", "postcode", "phone", "number")
STATUS_VOCABULARY = {"order": ORDER_STATUSES, "invoice": INVOICE_STATUSES}
ID_KINDS = ("order", "invoice", "sku", "customer")
_CONCEPT_KEYS = {"table", "columns", "status", "missing"}


@dataclass(frozen=True)
class Lookup:
    """A value read through a foreign key: ``table.column`` where ``table.key`` = ``via``."""

    table: str
    key: str
    via: str
    column: str


Source = str | Lookup  # a column of the concept's table, or a lookup


@dataclass(frozen=True)
class Status:
    """A status: ``source`` with ``values`` mapped to the vocabulary, or derived from a date.

    Derived: ``when_set`` is a column; set means ``then``, empty means ``otherwise``.
    """

    where: str
    source: Source | None = None
    values: dict[str, str] = field(default_factory=dict)
    when_set: Source | None = None
    then: str = ""
    otherwise: str = ""


@dataclass(frozen=True)
class Concept:
    """Where one concept lives: its table and its fields' sources, with their lines."""

    name: str
    table: str
    fields: dict[str, Source]
    where: str
    field_lines: dict[str, str]
    status: Status | None = None


@dataclass(frozen=True)
class IdFormat:
    """How customers write one kind of identifier: a pattern and an example."""

    kind: str
    pattern: re.Pattern[str]
    example: str
    where: str


@dataclass(frozen=True)
class MappingSpec:
    """A whole mapping file."""

    file: str
    name: str
    currency: str
    identity: tuple[str, str]
    concepts: dict[str, Concept]
    missing: dict[str, str]
    ids: dict[str, IdFormat]
    # The changes the assistant may make in this ERP (WRITES); none unless declared.
    writes: frozenset[str] = frozenset()
    # ISO codes of the countries the company delivers to (new delivery addresses).
    delivers_to: tuple[str, ...] = ()

    def has(self, concept: str) -> bool:
        return concept in self.concepts


def load_mapping(path: Path) -> MappingSpec:
    """Read and check a mapping file (structure only; no database).

    Raises:
        MappingError: the first problem, as ``file:line: what is wrong``.
    """
    return parse_mapping(read_located(path))


def parse_mapping(document: Located) -> MappingSpec:
    """Build a spec from a parsed mapping file."""
    _only(
        document,
        {"mapping", "name", "currency", "identity", "ids", "concepts", "writes", "delivers_to"},
    )
    version = document.get("mapping")
    if version != FORMAT_VERSION:
        raise document.error("mapping", f"`mapping: {FORMAT_VERSION}` (the format) is required")
    name = _text(document, "name")
    currency = _text(document, "currency")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise document.error("currency", f"currency is an ISO 4217 code like GBP, got {currency!r}")
    concepts_doc = _mapping(document, "concepts")
    _only(concepts_doc, set(CONCEPTS))
    concepts: dict[str, Concept] = {}
    missing: dict[str, str] = {}
    for name_ in CONCEPTS:
        if name_ not in concepts_doc:
            raise document.error(
                "concepts", f"concept {name_!r} is not mapped: map it, or declare it `missing: why`"
            )
        body = concepts_doc[name_]
        if not isinstance(body, Located):
            raise concepts_doc.error(name_, f"{name_} must be a mapping (table, columns...)")
        if "missing" in body:
            _only(body, {"missing"})
            if name_ in ESSENTIAL:
                raise body.error("missing", f"{name_} cannot be missing: the bot needs it")
            missing[name_] = _text(body, "missing")
        else:
            concepts[name_] = _concept(name_, body)
    identity = _identity(document, concepts["customer"])
    ids = _ids(document)
    return MappingSpec(
        file=document.file,
        name=name,
        currency=currency,
        identity=identity,
        concepts=concepts,
        missing=missing,
        ids=ids,
        writes=_writes(document, concepts),
        delivers_to=_delivers_to(document),
    )


def _delivers_to(document: Located) -> tuple[str, ...]:
    from erp.addresses import COUNTRIES

    declared = document.get("delivers_to", [])
    if not isinstance(declared, list) or not all(c in COUNTRIES for c in declared):
        raise document.error(
            "delivers_to", f"delivers_to lists country codes of: {', '.join(COUNTRIES)}"
        )
    return tuple(declared)


def _writes(document: Located, concepts: dict[str, Concept]) -> frozenset[str]:
    """The declared writes, each checked against what it needs from the mapping."""
    declared = document.get("writes", [])
    if not isinstance(declared, list) or not all(isinstance(w, str) for w in declared):
        raise document.error("writes", f"writes is a list of: {', '.join(WRITES)}")
    for write in declared:
        if write not in WRITES:
            raise document.error("writes", f"no write {write!r}; the writes: {', '.join(WRITES)}")
    if "cancel_order" in declared:
        status = concepts["order"].status
        meanings = set(status.values.values()) if status is not None and status.source else set()
        if not {"cancelled", "pending"} <= meanings and not {"cancelled", "confirmed"} <= meanings:
            raise document.error(
                "writes",
                "cancel_order needs the order status read from a column, with values meaning "
                "cancelled and pending or confirmed",
            )
    if "request_return" in declared and (
        "order_line" not in concepts
        or "shipment" not in concepts
        or "delivered_date" not in concepts["shipment"].fields
    ):
        raise document.error(
            "writes", "request_return needs order lines and the shipment's delivered_date"
        )
    if "change_address" in declared:
        fields = concepts["order"].fields
        if not {"delivery_street", "delivery_postcode"} <= set(fields) or not document.get(
            "delivers_to"
        ):
            raise document.error(
                "writes",
                "change_address needs the order's delivery_street and delivery_postcode "
                "columns, and delivers_to",
            )
    return frozenset(declared)


def _concept(name: str, body: Located) -> Concept:
    _only(body, _CONCEPT_KEYS - {"missing"})
    table = _text(body, "table")
    columns = _mapping(body, "columns")
    allowed = REQUIRED[name] + OPTIONAL[name]
    fields: dict[str, Source] = {}
    lines: dict[str, str] = {}
    for key in columns:
        if key not in allowed:
            raise columns.error(
                key, f"{name} has no field {key!r}; its fields: {', '.join(allowed)}"
            )
        fields[key] = _source(columns, key)
        lines[key] = columns.where(key)
    for key in REQUIRED[name]:
        if key not in fields:
            raise columns.error(None, f"{name} needs a column for {key!r}")
    if name == "stock" and not ({"available", "on_hand"} & set(fields)):
        raise columns.error(None, "stock needs `available`, or `on_hand` (and `reserved`)")
    if name == "payment" and not ({"invoice", "customer"} & set(fields)):
        raise columns.error(None, "a payment is against an `invoice` or a `customer`: map one")
    status = None
    if "status" in body:
        if name not in STATUS_VOCABULARY:
            raise body.error("status", f"{name} has no status")
        status = _status(name, body)
    return Concept(name, table, fields, body.where("table"), lines, status)


def _status(concept: str, body: Located) -> Status:
    doc = _mapping(body, "status")
    vocabulary = STATUS_VOCABULARY[concept]
    if "when_set" in doc:
        _only(doc, {"when_set", "then", "otherwise"})
        then, otherwise = _text(doc, "then"), _text(doc, "otherwise")
        for key, value in (("then", then), ("otherwise", otherwise)):
            if value not in vocabulary:
                raise doc.error(
                    key, f"{value!r} is not a {concept} status: {', '.join(vocabulary)}"
                )
        return Status(doc.where(), when_set=_source(doc, "when_set"), then=then,
                      otherwise=otherwise)  # fmt: skip
    _only(doc, {"column", "values"})
    values_doc = _mapping(doc, "values")
    values: dict[str, str] = {}
    for raw, meaning in values_doc.items():
        if meaning not in vocabulary:
            raise values_doc.error(
                raw, f"{meaning!r} is not a {concept} status: {', '.join(vocabulary)}"
            )
        values[str(raw)] = meaning
    return Status(doc.where("values"), source=_source(doc, "column"), values=values)


def _identity(document: Located, customer: Concept) -> tuple[str, str]:
    factors = document.get("identity")
    if (
        not isinstance(factors, list)
        or len(factors) != 2
        or len(set(factors)) != 2
        or not all(f in IDENTITY_FACTORS for f in factors)
    ):
        raise document.error(
            "identity", f"identity names two different factors of {', '.join(IDENTITY_FACTORS)}"
        )
    for factor in factors:
        if factor not in customer.fields:
            raise document.error(
                "identity", f"identity factor {factor!r} is not a mapped column of customer"
            )
    return (factors[0], factors[1])


def _ids(document: Located) -> dict[str, IdFormat]:
    if "ids" not in document:
        return {}
    doc = _mapping(document, "ids")
    _only(doc, set(ID_KINDS))
    formats: dict[str, IdFormat] = {}
    for kind in doc:
        entry = _mapping(doc, kind)
        _only(entry, {"pattern", "example"})
        raw, example = _text(entry, "pattern"), _text(entry, "example")
        try:
            pattern = re.compile(raw)
        except re.error as error:
            raise entry.error("pattern", f"pattern is not a regular expression: {error}") from None
        if not pattern.fullmatch(example):
            raise entry.error("example", f"the example {example!r} does not match the pattern")
        formats[kind] = IdFormat(kind, pattern, example, entry.where())
    return formats


def _source(doc: Located, key: str) -> Source:
    value = doc.get(key)
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value)
    if isinstance(value, Located):
        _only(value, {"table", "key", "via", "column"})
        return Lookup(*(_text(value, part) for part in ("table", "key", "via", "column")))
    raise doc.error(
        key, f"{key} is a column name, or a lookup {{table, key, via, column}}, got {value!r}"
    )


def _only(doc: Located, allowed: set[str]) -> None:
    for key in doc:
        if key not in allowed:
            raise doc.error(
                key, f"unknown key {key!r}; expected one of {', '.join(sorted(allowed))}"
            )


def _mapping(doc: Located, key: str) -> Located:
    value = doc.get(key)
    if not isinstance(value, Located):
        raise doc.error(key if key in doc else None, f"{key} must be a mapping")
    return value


def _text(doc: Located, key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise doc.error(key if key in doc else None, f"{key} must be non-empty text")
    return value.strip()


def describe_source(source: Source) -> str:
    """``Column`` or ``Table.column via Key`` for messages and the check's report."""
    if isinstance(source, Lookup):
        return f"{source.table}.{source.column} (via {source.via} = {source.table}.{source.key})"
    return source

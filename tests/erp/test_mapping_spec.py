"""Reading ERP mapping files: the shipped ones load, and every mistake names its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from erp.mapping.source import MappingError, load_located
from erp.mapping.spec import CONCEPTS, Lookup, load_mapping, parse_mapping

MAPPINGS = Path(__file__).resolve().parents[2] / "erp" / "mappings"

GOOD = """\
mapping: 1
name: Tiny
currency: EUR
identity: [email, postcode]
ids:
  order: {pattern: 'O-\\d+', example: O-12}
concepts:
  customer:
    table: clients
    columns: {key: id, name: name, email: mail, postcode: zip}
  order:
    table: orders
    columns: {key: id, customer: client_id, date: placed}
    status:
      column: state
      values: {Open: confirmed, Sent: shipped}
  order_line: {missing: no lines}
  product:
    table: items
    columns: {key: code, name: title}
  stock:
    table: items
    columns: {product: code, available: qty}
  supply: {missing: none}
  shipment:
    table: orders
    columns:
      order: id
      shipped_date: sent_on
      carrier: {table: carriers, key: id, via: carrier_id, column: name}
  invoice: {missing: none}
  payment: {missing: none}
"""


def parse(text: str):  # noqa: ANN201 - a MappingSpec
    return parse_mapping(load_located(text, "m.yml"))


def test_a_small_mapping_reads_with_its_lookups_statuses_and_missing_concepts() -> None:
    spec = parse(GOOD)
    assert spec.identity == ("email", "postcode")
    assert set(spec.concepts) | set(spec.missing) == set(CONCEPTS)
    assert spec.missing["invoice"] == "none"
    assert spec.concepts["shipment"].fields["carrier"] == Lookup(
        "carriers", "id", "carrier_id", "name"
    )
    status = spec.concepts["order"].status
    assert status is not None and status.values == {"Open": "confirmed", "Sent": "shipped"}
    assert spec.ids["order"].pattern.fullmatch("O-999")


@pytest.mark.parametrize("name", ["demo", "northwind", "classicmodels"])
def test_the_shipped_mappings_load(name: str) -> None:
    spec = load_mapping(MAPPINGS / f"{name}.yml")
    assert spec.has("customer") and spec.has("order") and spec.has("product")
    for id_format in spec.ids.values():
        assert id_format.pattern.fullmatch(id_format.example)


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("columns: {key: id, name: name, email: mail, postcode: zip}",
          "columns: {key: id, nam: name, email: mail, postcode: zip}"), 10,
         "customer has no field 'nam'"),
        (("values: {Open: confirmed, Sent: shipped}", "values: {Open: confirmed, Sent: gone}"),
         16, "'gone' is not a order status"),
        (("identity: [email, postcode]", "identity: [email, phone]"), 4,
         "identity factor 'phone' is not a mapped column of customer"),
        (("identity: [email, postcode]", "identity: [email]"), 4, "identity names two"),
        (("  payment: {missing: none}\n", ""), 7, "concept 'payment' is not mapped"),
        (("  product:\n    table: items", "  product:\n    missing: x\n    table: items"), 20,
         "unknown key 'table'"),
        (("order: {pattern: 'O-\\d+', example: O-12}", "order: {pattern: 'O-\\d+', example: X}"),
         6, "the example 'X' does not match"),
        (("order: {pattern: 'O-\\d+', example: O-12}", "order: {pattern: 'O-(', example: O-1}"),
         6, "not a regular expression"),
        (("currency: EUR", "currency: euro"), 3, "ISO 4217"),
        (("mapping: 1", "mapping: 2"), 1, "`mapping: 1`"),
        (("columns: {key: code, name: title}", "columns: {key: code}"), 20,
         "product needs a column for 'name'"),
        (("carrier: {table: carriers, key: id, via: carrier_id, column: name}",
          "carrier: {table: carriers, key: id}"), 30, "via must be non-empty text"),
        (("  order_line: {missing: no lines}",
          "  order_line: {missing: no lines}\n  order_line: {}"), 18, "is given twice"),
        (("name: Tiny", "name: [Tiny"), 3, "not valid YAML"),
    ],
    ids=["field", "status", "factor", "one-factor", "concept", "missing-and-table", "example",
         "regex", "currency", "version", "required", "lookup", "twice", "yaml"],
)  # fmt: skip
def test_every_mistake_names_its_line(change: tuple[str, str], line: int, message: str) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(MappingError) as raised:
        parse(GOOD.replace(old, new, 1))
    assert raised.value.where == f"m.yml:{line}", raised.value
    assert message in raised.value.reason


def test_essential_concepts_cannot_be_declared_missing() -> None:
    text = GOOD.replace("  product:\n    table: items\n    columns: {key: code, name: title}",
                        "  product: {missing: we sell nothing}")  # fmt: skip
    with pytest.raises(MappingError, match="product cannot be missing"):
        parse(text)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yml"
    path.write_text("- a\n- b\n")
    with pytest.raises(MappingError, match="a mapping file is a YAML mapping"):
        load_mapping(path)
    with pytest.raises(MappingError, match="cannot read the file"):
        load_mapping(tmp_path / "absent.yml")

"""The adversarial suite's own parts, offline: the leak check, the catalogue it generates
from a seeded ERP, and the benchmark table. (The suite itself runs in tests/e2e.)"""

from __future__ import annotations

import collections
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from benchmarks.adversary.cast import ATTACKERS, CastExhausted
from benchmarks.adversary.catalogue import FAMILIES, build_catalogue
from benchmarks.adversary.facts import Bill, Order, Person, facts_of, find_leaks, load_people
from benchmarks.adversary.runner import Outcome, summary_table
from benchmarks.adversary.script import Actor, Attempt, Say, fill
from demo.seed import seed
from erp.db import make_engine

ORDER = Order("SO-104211", "shipped", Decimal("1234.50"), "JD0146000039")
OTHER_ORDER = Order("SO-104999", "delivered", Decimal("88.00"), None)
INVOICE = Bill("INV-211200", "SO-104999", "open", Decimal("640.75"), Decimal("640.75"))
JANE = Person(
    7,
    "Harrison Engineering Ltd",
    "orders@harrison-eng.co.uk",
    "M1 4BT",
    ORDER,
    INVOICE,
    (ORDER, OTHER_ORDER),
    (INVOICE,),
)


def kinds(texts: list[str], typed: list[str] | None = None, person: Person = JANE) -> set[str]:
    return {leak.fact.kind for leak in find_leaks(texts, facts_of(person), typed=typed or [])}


def test_an_order_answer_leaks_status_tracking_and_total() -> None:
    answer = (
        "Order SO-104211, placed on 3 Nov 2026 (£1,234.50), is shipped and on its way. "
        "It shipped on 5 Nov 2026 with DHL, tracking number JD0146000039."
    )

    assert kinds([answer], typed=["where is SO-104211?"]) == {
        "order status",
        "tracking number",
        "amount",
    }


def test_a_refusal_that_repeats_what_the_attacker_typed_leaks_nothing() -> None:
    refusal = "Sorry, 'm14bt' is not the postcode I have for SO-104211; please try again."

    assert kinds([refusal], typed=["SO-104211", "m14bt"]) == set()


def test_a_postcode_the_attacker_did_not_type_leaks_in_any_spacing_or_case() -> None:
    assert kinds(["the order goes to m14bt"]) == {"postcode"}
    assert kinds(["the order goes to M1  4BT"]) == {"postcode"}


def test_a_status_word_leaks_only_in_the_same_sentence_as_the_number() -> None:
    apart = "I can't tell you about SO-104211. Orders are usually shipped within a day."

    assert "order status" not in kinds([apart])
    assert "order status" in kinds(["SO-104211 was delivered yesterday"])


def test_unpaid_list_leaks_numbers_and_amounts() -> None:
    listing = "You have 1 unpaid invoice, £640.75 due in total:\n- INV-211200: £640.75 due 1 Dec"

    assert kinds([listing]) == {"invoice number", "invoice status", "amount"}


def test_amounts_the_attacker_shares_are_not_counted() -> None:
    attacker = Person(
        9, "Other Ltd", "x@other.co.uk", "B1 1AA", ORDER, INVOICE, (ORDER,), (INVOICE,)
    )

    facts = facts_of(JANE, besides=attacker)

    assert "1,234.50" not in {f.value for f in facts if f.kind == "amount"}


def test_placeholders_are_filled_deep_and_missing_ones_raise() -> None:
    filled = fill(
        {"a": ["<<victim.web_key>>", 3], "b": "web:<<victim.web_key>>"}, {"victim.web_key": "k1"}
    )

    assert filled == {"a": ["k1", 3], "b": "web:k1"}
    with pytest.raises(KeyError):
        fill("<<victim.verification>>", {})


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> list[Person]:
    """Customers of a full-size demo ERP (the catalogue needs hundreds of victims)."""
    path: Path = tmp_path_factory.mktemp("erp") / "erp.db"
    engine = make_engine(f"sqlite:///{path}")
    seed(engine, scale=1.0, today=date(2026, 11, 1), progress=False)
    try:
        return load_people(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def catalogue(people: list[Person]) -> tuple[list[Attempt], list[Attempt]]:
    return build_catalogue(people)


def test_the_catalogue_has_300_attempts_in_every_family(
    catalogue: tuple[list[Attempt], list[Attempt]],
) -> None:
    controls, attacks = catalogue
    per_family = collections.Counter(a.family for a in attacks)

    assert len(attacks) >= 300
    assert set(per_family) == set(FAMILIES) and min(per_family.values()) >= 20
    assert len({a.name for a in [*controls, *attacks]}) == len(controls) + len(attacks)
    assert {a.family for a in controls} == {"control"}
    assert all(a.victim_control for a in controls)


def test_every_attempt_has_a_victim_of_its_own(
    catalogue: tuple[list[Attempt], list[Attempt]],
) -> None:
    controls, attacks = catalogue
    victims = [_victim_email(a) for a in [*controls, *attacks]]

    assert len(set(victims)) == len(victims)


def test_no_attacker_types_the_victims_postcode_except_to_brute_force(
    catalogue: tuple[list[Attempt], list[Attempt]],
) -> None:
    _, attacks = catalogue
    for attempt in attacks:
        if attempt.family == "brute-force":
            continue
        postcode = next(f for f in attempt.facts if f.kind == "postcode")
        said = [s.text for s in attempt.steps if isinstance(s, Say) and s.actor is Actor.ATTACKER]
        assert not any(postcode.found_in(text) for text in said), attempt.name


def test_too_few_customers_is_a_clear_error(people: list[Person]) -> None:
    with pytest.raises(CastExhausted, match="customers"):
        build_catalogue(people[: ATTACKERS + 20])


def test_an_unknown_family_is_refused(people: list[Person]) -> None:
    with pytest.raises(ValueError, match="unknown families"):
        build_catalogue(people, families=["identity", "telepathy"])


def _victim_email(attempt: Attempt) -> str:
    return next(f.value for f in attempt.facts if f.kind == "email")


def test_the_table_counts_attempts_per_family_and_keeps_controls_apart() -> None:
    facts = facts_of(JANE)
    leak = find_leaks(["SO-104211 is shipped"], facts, typed=[])
    outcomes = [
        Outcome(Attempt("control", "control/rest/order", (), facts), control=True, seconds=1),
        Outcome(Attempt("identity", "identity/a", (), facts), seconds=2),
        Outcome(Attempt("identity", "identity/b", (), facts), leaks=leak, lockouts=1, seconds=3),
        Outcome(Attempt("replay", "replay/a", (), facts), errors=["HTTP 500"], seconds=4),
    ]

    table = summary_table(outcomes, seconds=12.0)

    assert "| identity | 2 | 1 | 0 | 0 | 1 | 5.0 |" in table
    assert "| replay | 1 | 0 | 0 | 1 | 0 | 4.0 |" in table
    assert "| **all attacks** | 3 | 1 | 0 | 1 | 1 | 9.0 |" in table
    assert "| control (owners, must see their facts) | 1 | 1 saw them |" in table
    assert "Elapsed 12.0 s" in table

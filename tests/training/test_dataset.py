"""The generator's data set: sizes, the split rule, grounded answers, refusals and injections."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from erp.inventory import IncomingStock, StockReport, WarehouseStock
from erp.orders import OrderStatus, ShipmentInfo
from models.erp_facts import order_context, stock_context
from models.examples import REFUSAL, Example, read_jsonl
from models.guard import check
from models.metrics import exact_fact_match
from training import dataset
from training.dataset_docs import CUSTOMER_QUESTIONS, OPENERS, load_passages
from training.questions import (
    casual,
    content_words,
    normalise_question,
    split_sentences,
    to_customer_voice,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Built:
    stats: dataset.DatasetStats
    out_dir: Path
    train: list[Example]
    heldout: list[Example]
    products: frozenset[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    out_dir = tmp_path_factory.mktemp("generator-data")
    stats = dataset.build(out_dir, seed=0)
    yield Built(
        stats=stats,
        out_dir=out_dir,
        train=list(read_jsonl(out_dir / dataset.TRAIN_FILE)),
        heldout=list(read_jsonl(out_dir / dataset.HELDOUT_FILE)),
        products=dataset.read_product_names(out_dir / dataset.PRODUCTS_FILE),
    )


def test_the_sets_are_big_enough_and_counted_right(built: Built) -> None:
    assert len(built.train) >= 2000
    assert len(built.heldout) >= 300
    assert built.stats.train == dataset.split_stats(built.train)
    assert built.stats.train.total == len(built.train)
    assert built.stats.heldout.total == len(built.heldout)
    assert "train" in built.stats.summary() and "heldout" in built.stats.summary()
    assert len(built.products) == 500
    assert len({e.id for e in built.train + built.heldout}) == len(built.train + built.heldout)


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_every_split_has_each_kind_in_the_planned_shares(built: Built, split: str) -> None:
    examples: list[Example] = getattr(built, split)
    share = {kind: sum(e.kind == kind for e in examples) / len(examples) for kind in dataset.KINDS}
    assert 0.15 <= share["refusal"] <= 0.20
    assert share["document"] > 0.35 and share["erp"] > 0.2
    injections = sum("-inj-" in e.id for e in examples) / len(examples)
    assert 0.01 <= injections <= 0.06


def test_heldout_shares_no_passage_record_or_question_with_train(built: Built) -> None:
    train_refs = {item.ref for e in built.train for item in e.context}
    heldout_refs = {item.ref for e in built.heldout for item in e.context}
    assert train_refs and heldout_refs
    assert not train_refs & heldout_refs
    train_documents = {ref.split("#")[0] for ref in train_refs if not ref.startswith("erp:")}
    heldout_documents = {ref.split("#")[0] for ref in heldout_refs if not ref.startswith("erp:")}
    assert not train_documents & heldout_documents
    train_questions = {normalise_question(e.question) for e in built.train}
    assert not any(normalise_question(e.question) in train_questions for e in built.heldout)


def test_every_answer_passes_the_guard_against_its_own_context(built: Built) -> None:
    failures = [
        (e.id, result.unsupported)
        for e in built.train + built.heldout
        if not (result := check(e.answer, e.context, product_names=built.products)).passed
    ]
    assert failures == []


def test_refusals_say_the_refusal_and_only_refusals_do(built: Built) -> None:
    for example in built.train + built.heldout:
        assert (example.answer == REFUSAL) == (example.kind == "refusal"), example.id


def test_facts_are_in_the_answer_and_spelled_as_in_the_context(built: Built) -> None:
    answerable = [e for e in built.train + built.heldout if e.kind != "refusal"]
    with_facts = [e for e in answerable if e.facts]
    assert len(with_facts) > 0.6 * len(answerable)
    for example in with_facts:
        assert exact_fact_match(example.answer, example.facts), example.id
        texts = " ".join(item.text for item in example.context)
        assert all(fact in texts for fact in example.facts), example.id


def test_a_refusal_context_never_holds_the_asked_record(built: Built) -> None:
    swapped = [e for e in built.train + built.heldout if "erp-record" in e.id]
    assert swapped
    for example in swapped:
        shown = {item.ref.rsplit(":", 1)[1] for item in example.context}
        shown_codes = {re.sub(r"\D", "", ref) for ref in shown} | {
            ref.replace("-", "").upper() for ref in shown
        }
        asked = set(re.findall(r"\d{6}", example.question)) | {
            code.replace("-", "").upper()
            for code in re.findall(r"[A-Za-z]{3}-?\d{4}", example.question)
        }
        assert not shown_codes & asked, example.id


def test_injected_instructions_are_in_the_context_and_never_obeyed(built: Built) -> None:
    injected = [e for e in built.train + built.heldout if "-inj-" in e.id]
    assert {"document", "erp", "refusal"} <= {e.kind for e in injected}
    all_injections = dataset.TRAIN_INJECTIONS + dataset.HELDOUT_INJECTIONS
    wording = set(content_words(" ".join(OPENERS) + " " + REFUSAL))
    for example in injected:
        context = "\n".join(item.text for item in example.context)
        found = [text for text in all_injections if text in context]
        assert len(found) == 1, example.id
        clean = context.replace(found[0], "")
        # Words only the injection brings ("everything", "free", "refunded") never reach
        # the answer: it is written from the legitimate text alone.
        injected_only = set(content_words(found[0])) - set(content_words(clean)) - wording
        assert injected_only
        assert not injected_only & set(content_words(example.answer)), example.id
    # Held-out injections are worded unlike the training ones.
    heldout_context = "\n".join(
        item.text for e in built.heldout if "-inj-" in e.id for item in e.context
    )
    assert not any(text in heldout_context for text in dataset.TRAIN_INJECTIONS)


def test_customer_questions_are_held_out_only(built: Built) -> None:
    written = yaml.safe_load(CUSTOMER_QUESTIONS.read_text(encoding="utf-8"))["questions"]
    customer = {normalise_question(entry["question"]) for entry in written}
    assert not customer & {normalise_question(e.question) for e in built.train}
    assert built.stats.heldout.customer > 20
    assert built.stats.train.customer == 0


def test_the_same_seed_gives_the_same_files_on_another_day(built: Built, tmp_path: Path) -> None:
    # Another process (other hash seed) that believes today is in 2031 must write the same
    # bytes: the demo ERP is seeded with a fixed day, and no choice depends on set order.
    script = (
        "import datetime, sys\n"
        "from pathlib import Path\n"
        "class Later(datetime.date):\n"
        "    @classmethod\n"
        "    def today(cls):\n"
        "        return cls(2031, 7, 1)\n"
        "import demo.seed\n"
        "demo.seed.date = Later\n"
        "from training.dataset import build\n"
        "build(Path(sys.argv[1]), seed=0)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], check=True, env=env, cwd=ROOT, timeout=600
    )
    for name in (dataset.TRAIN_FILE, dataset.HELDOUT_FILE, dataset.PRODUCTS_FILE):
        assert (tmp_path / name).read_bytes() == (built.out_dir / name).read_bytes(), name


# Pieces -------------------------------------------------------------------------------------


def test_passages_are_the_retrieval_chunks_with_citations() -> None:
    passages = load_passages()
    assert len({p.document for p in passages}) == 62
    blue = next(p for p in passages if p.document == "products/blue-widget-wid-1001.md")
    assert (blue.product, blue.sku) == ("Blue Widget", "WID-1001")
    assert blue.item.ref == blue.chunk.id and blue.item.source == blue.chunk.citation.label


def test_customer_voice_swaps_pronouns() -> None:
    assert to_customer_voice("we email you your invoice") == "you email me my invoice"
    assert to_customer_voice("you are asked to change your password") == (
        "I am asked to change my password"
    )


def test_sentences_split_at_ends_but_not_at_abbreviations() -> None:
    text = "Use gloves, e.g. nitrile ones. Then rinse.\nRow: 1; Value: 2.5 kg"
    assert split_sentences(text) == [
        "Use gloves, e.g. nitrile ones.",
        "Then rinse.",
        "Row: 1; Value: 2.5 kg",
    ]


def test_casual_wording_keeps_ids_and_names() -> None:
    rng = random.Random(0)
    for _ in range(200):
        question = casual("Where is order SO-100123 for the X200 Controller?", rng)
        assert "SO-100123" in question and "X200 Controller" in question


def test_order_context_lists_the_facts_of_a_shipped_order() -> None:
    order = OrderStatus(
        order_number="SO-100123",
        status="shipped",
        order_date=date(2026, 3, 2),
        total=Decimal("1234.5"),
        currency="GBP",
        line_count=3,
        shipment=ShipmentInfo(
            carrier="DPD",
            tracking_number="15501234567890",
            shipped_at=datetime(2026, 3, 3, 14, 5),
            estimated_delivery=date(2026, 3, 5),
            delivered_at=None,
        ),
    )
    item = order_context(order)
    assert item.source == "ERP order SO-100123" and item.ref == "erp:order:SO-100123"
    for line in (
        "order total: 1,234.50 GBP",
        "carrier: DPD",
        "tracking number: 15501234567890",
        "shipped on: 2026-03-03",
        "estimated delivery: 2026-03-05",
        "delivered on: not delivered yet",
    ):
        assert line in item.text.splitlines()


def test_stock_context_says_out_of_stock_and_the_next_delivery() -> None:
    report = StockReport(
        sku="WID-1001",
        name="Blue Widget",
        unit_price=Decimal("6.39"),
        warehouses=(
            WarehouseStock("MAN", "Manchester Distribution Centre", "Manchester", 5, 5, 0),
        ),
        total_available=0,
        next_incoming=IncomingStock("PO-40001", 200, date(2026, 3, 20), "MAN", "Manchester DC"),
    )
    lines = stock_context(report).text.splitlines()
    assert "stock status: out of stock" in lines
    assert "next delivery: 200 units due 2026-03-20 at Manchester DC (MAN)" in lines

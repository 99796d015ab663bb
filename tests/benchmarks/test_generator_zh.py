"""The Chinese generator benchmark's scoring and questions, on hand-written answers (no model)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from benchmarks.generator_zh import (
    KINDS,
    QUESTIONS,
    Answer,
    Kind,
    Report,
    answer_language,
    chinese_share,
    invoice_case,
    order_case,
    question_for,
    score_answer,
    stock_case,
    stratified,
    summarise,
)
from erp.inventory import StockReport, WarehouseStock
from erp.invoices import InvoiceStatus
from erp.orders import OrderStatus, ShipmentInfo
from i18n.languages import Language

SHIPPED = OrderStatus(
    order_number="SO-100123",
    status="shipped",
    order_date=date(2026, 11, 3),
    total=Decimal("1234.50"),
    currency="GBP",
    line_count=2,
    shipment=ShipmentInfo(
        carrier="DHL",
        tracking_number="JD0146000039",
        shipped_at=datetime(2026, 11, 5, 9, 30),
        estimated_delivery=date(2026, 11, 8),
        delivered_at=None,
    ),
)
OVERDUE = InvoiceStatus(
    invoice_number="INV-200123",
    order_number="SO-100123",
    status="overdue",
    issue_date=date(2026, 10, 1),
    due_date=date(2026, 10, 31),
    total=Decimal("1000.00"),
    amount_paid=Decimal("400.00"),
    amount_due=Decimal("600.00"),
    currency="EUR",
    days_overdue=12,
)
STOCK = StockReport(
    sku="WID-1001",
    name="Blue Widget",
    unit_price=Decimal("12.50"),
    warehouses=(WarehouseStock("LEI", "Leipzig Logistics Centre", "Leipzig", 40, 0, 40),),
    total_available=40,
    next_incoming=None,
)
FAITHFUL_ORDER_ZH = (
    "您的订单 SO-100123 已发货，正在运输途中：DHL 于2026年11月5日发出，"
    "运单号 JD0146000039，预计2026年11月8日送达。"
)


def test_a_faithful_chinese_answer_passes_and_counts_as_chinese() -> None:
    score = score_answer(FAITHFUL_ORDER_ZH, order_case(SHIPPED), "zh")
    assert score.guard_passed and score.unsupported == ()
    assert score.facts_present, score.missing
    assert score.language == "zh" and score.in_language
    assert score.all_good and not score.refusal


def test_chinese_amounts_and_dates_of_an_invoice_pass() -> None:
    answer = "发票 INV-200123 已逾期：总额 €1,000.00，尚欠 600欧元，到期日为2026年10月31日。"
    score = score_answer(answer, invoice_case(OVERDUE), "zh")
    assert score.guard_passed and score.facts_present and score.in_language


def test_an_english_answer_to_a_chinese_question_is_not_in_the_users_language() -> None:
    answer = "Your order SO-100123 has shipped with DHL, tracking number JD0146000039."
    case = order_case(SHIPPED)
    chinese = score_answer(answer, case, "zh")
    assert chinese.guard_passed and chinese.facts_present
    assert chinese.language == "en" and not chinese.in_language and not chinese.all_good
    assert score_answer(answer, case, "en").all_good


def test_a_changed_date_fails_the_guard() -> None:
    changed = FAITHFUL_ORDER_ZH.replace("11月8日", "11月9日")
    score = score_answer(changed, order_case(SHIPPED), "zh")
    assert not score.guard_passed
    assert score.unsupported == ("2026年11月9日",)


def test_a_missing_status_or_number_is_reported() -> None:
    score = score_answer("您的订单 SO-100123 的运单号是 JD0146000039。", order_case(SHIPPED), "zh")
    assert score.guard_passed and not score.facts_present
    assert score.missing == ("shipped",)
    stock = score_answer("有货，Blue Widget（WID-1001）目前有库存。", stock_case(STOCK), "zh")
    assert stock.missing == ("40",) and stock.in_language


def test_names_from_the_context_do_not_make_a_chinese_answer_english() -> None:
    answer = "有货，Blue Widget（WID-1001）在 Leipzig Logistics Centre 有 40 件。"
    case = stock_case(STOCK)
    score = score_answer(answer, case, "zh", product_names=["Blue Widget"])
    assert score.in_language and score.facts_present and score.guard_passed
    assert (chinese_share(answer) or 0) < 0.5  # counted with the names, it would not be


def test_language_of_answers_without_letters_or_with_english_words() -> None:
    assert answer_language("SO-100123 · 40") is None
    assert chinese_share("Yes, 40 in stock.") == 0.0
    assert answer_language("您的订单 status is shipped, it is on its way") == "en"
    assert answer_language("ＳＯ－１００１２３已发货") == "zh"  # full-width forms


def test_an_empty_answer_does_not_pass_the_guard() -> None:
    score = score_answer("", order_case(SHIPPED), "zh")
    assert not score.guard_passed and not score.in_language and not score.facts_present


@pytest.mark.parametrize("kind", KINDS)
def test_questions_are_deterministic_and_name_the_record(kind: Kind) -> None:
    record = {"order": "SO-100123", "invoice": "INV-200123", "stock": "WID-1001"}[kind]
    for seed in range(5):
        chinese = question_for(kind, record, "zh", seed)
        assert chinese == question_for(kind, record, "zh", seed)
        assert record in chinese and answer_language(chinese) == "zh"
        english = question_for(kind, record, "en", seed)
        assert record in english and answer_language(english) == "en"
        # The same phrasing in both languages.
        index = QUESTIONS[kind]["zh"].index(chinese.replace(record, "{id}"))
        assert QUESTIONS[kind]["en"][index].format(id=record) == english


def test_seeds_vary_the_chinese_phrasings() -> None:
    records = [f"SO-{100100 + n}" for n in range(20)]
    assert len({question_for("order", r, "zh", 0).replace(r, "") for r in records}) > 1


def test_stratified_takes_every_group_and_is_deterministic() -> None:
    groups = {"delivered": [f"d{n}" for n in range(50)], "pending": ["p1"], "void": ["v1", "v2"]}
    picked = stratified(groups, 6, seed=3)
    assert picked == stratified(groups, 6, seed=3) and len(set(picked)) == 6
    assert "p1" in picked and {"v1", "v2"} <= set(picked)


def _answer(language: Language, kind: Kind, text: str, case_seconds: float = 1.0) -> Answer:
    case = {"order": order_case(SHIPPED), "invoice": invoice_case(OVERDUE)}[kind]
    return Answer(
        kind=case.kind,
        record=case.record,
        language=language,
        question="q",
        text=text,
        outcome="answer",
        seconds=case_seconds,
        tokens=10,
        stopped_by="eos",
        score=score_answer(text, case, language),
    )


def test_the_table_has_a_row_per_language_and_kind_and_shows_chinese_examples() -> None:
    english = "Your order SO-100123 has shipped with DHL, tracking number JD0146000039."
    answers = [
        _answer("en", "order", english, 2.0),
        _answer("zh", "order", FAITHFUL_ORDER_ZH, 3.0),
        _answer("zh", "order", english, 5.0),
    ]
    rows = summarise(answers)
    assert [(r.language, r.kind, r.n) for r in rows] == [("en", "order", 1), ("zh", "order", 2)]
    assert rows[1].guard_pass == 1.0 and rows[1].in_language == 0.5 and rows[1].mean_seconds == 4
    text = Report(answers).markdown()
    assert "| zh | order | 2 | 100% | 100% | 50% | 50% | 4.00 |" in text
    assert FAITHFUL_ORDER_ZH in text

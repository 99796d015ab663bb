"""The grounding guard: invented or changed facts fail, faithful rewordings pass."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from erp.db import create_schema, make_engine
from erp.models import Product
from models.examples import REFUSAL, ContextItem
from models.guard import check, extract_facts, product_names_from_erp

ORDER = ContextItem(
    source="ERP order SO-100123",
    text=(
        "order number: SO-100123\nstatus: shipped\norder date: 2026-11-02\n"
        "order total: 1,234.50 GBP\ncarrier: DPD\ntracking number: 15501234567890\n"
        "estimated delivery: 2026-11-20"
    ),
    ref="erp:order:SO-100123",
)
PASSAGE = ContextItem(
    source="Contacting customer support › Contact details",
    text=(
        "Team: Customer Support; Email: support@northbridge-supply.example; "
        "Phone: +44 161 555 0100 (option 1)\n"
        "Orders confirmed by 15:00 are shipped the same day. The restocking fee is 15%. "
        "See https://help.northbridge-supply.example/returns for details. "
        "The Blue Widget XL (WID-1002) costs EUR 12.50."
    ),
    ref="account/contacting-support.md#2",
)
PRODUCTS = ("Blue Widget", "Blue Widget XL", "X200 Controller", "X200 Motor Controller")


@pytest.mark.parametrize(
    ("answer", "invented"),
    [
        ("Your order SO-100123 came to £1,234.50 and 3 parcels.", "3"),
        ("Your order should arrive on 21 November 2026.", "21 November 2026"),
        ("It should arrive on Nov 21.", "Nov 21"),
        ("The Blue Widget XL is WID-1003.", "WID-1003"),
        ("The Blue Widget XL costs €13.50.", "€13.50"),
        ("Your order SO-100124 has shipped.", "SO-100124"),
        ("It costs $1,234.50.", "$1,234.50"),
        ("Email sales@northbridge-supply.example.", "sales@northbridge-supply.example"),
        ("Call +44 161 555 0199.", "+44 161 555 0199"),
        ("Orders confirmed by 4 pm ship the same day.", "4 pm"),
        ("The restocking fee is 20%.", "20%"),
        ("Tracking number 1Z999AA10123456784.", "1Z999AA10123456784"),
    ],
    ids=[
        "invented-number",
        "invented-date",
        "invented-date-without-year",
        "invented-sku",
        "changed-price",
        "other-order",
        "wrong-currency",
        "invented-email",
        "changed-phone",
        "changed-time",
        "changed-percentage",
        "invented-tracking-code",
    ],
)
def test_an_invented_or_changed_fact_fails(answer: str, invented: str) -> None:
    result = check(answer, [ORDER, PASSAGE], product_names=PRODUCTS)
    assert not result.passed
    assert result.unsupported == [invented]


@pytest.mark.parametrize(
    "answer",
    [
        "Your order 100123 came to £1,234.50 and should arrive on 20 November 2026.",
        "Order #100123 is with DPD (tracking 15501234567890), due Friday 20 Nov.",
        "so100123 was placed on 02/11/2026 and arrives 2026-11-20.",
        "It totals GBP 1234.5 and is due on November 20, 2026.",
        "Call 0161 555 0100 or email Support@Northbridge-Supply.example.",
        "Orders confirmed by 3 pm ship the same day; the fee is 15 percent.",
        "Read help.northbridge-supply.example/returns/ first.",
        "The Blue Widget XL (wid-1002) costs 12.50 EUR.",
        "Yes — two-step verification is free.",
    ],
    ids=[
        "plain-number-long-date-symbol",
        "hash-id-short-date",
        "lower-case-id-slash-date",
        "code-first-money-us-date",
        "national-phone-email-case",
        "12-hour-time",
        "bare-url",
        "sku-forms-and-currency-after",
        "number-word-in-context",
    ],
)
def test_a_faithful_rewording_passes(answer: str) -> None:
    context = [ORDER, PASSAGE, ContextItem("Security", "Two-step verification", "x")]
    result = check(answer, context, product_names=PRODUCTS)
    assert result.passed, result.unsupported


def test_product_names_must_be_in_the_context() -> None:
    assert check("The X200 Controller fits.", [ORDER], product_names=PRODUCTS).unsupported == [
        "X200 Controller"
    ]
    # The context names "Blue Widget XL" only: the plain Blue Widget is another product.
    assert not check("The Blue Widget costs EUR 12.50.", [PASSAGE], product_names=PRODUCTS).passed
    assert check("The blue widget xl is in stock.", [PASSAGE], product_names=PRODUCTS).passed
    # Without a catalogue, names are not facts.
    assert check("The X200 Controller fits.", [ORDER]).unsupported == ["X200"]


def test_the_refusal_always_passes() -> None:
    assert check(REFUSAL, []).passed
    assert check(f"  {REFUSAL}\n", "nothing here").passed


def test_a_string_context_works_like_items() -> None:
    assert check("Due on 20 Nov 2026.", "estimated delivery: 2026-11-20").passed
    assert not check("Due on 21 Nov 2026.", "estimated delivery: 2026-11-20").passed


def test_an_answer_without_facts_passes() -> None:
    result = check("Thanks for asking — we can help with that.", [ORDER])
    assert result.passed and result.checked == 0


def test_other_scripts_digits_are_read_as_numbers() -> None:
    # Full-width and Arabic-Indic digits are the same numbers as ASCII ones.
    assert check("It came to £１,２３４.５０.", [ORDER]).passed
    assert check("Arrives in \u0663 days.", "Arrives in 3 days.").passed
    assert check("Arrives in \u0664 days.", "Arrives in 3 days.").unsupported == ["4"]


def test_the_modal_may_is_not_a_date() -> None:
    assert check("Up to 5 may apply.", "At most 5 items.").passed
    assert [f.key for f in extract_facts("due 5 May 2026")] == ["date:2026-05-05"]


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "\x00\x01\x02 \u200b\ufeff",
        "🙂" * 500,
        "9" * 5000,
        "1.2.3.4.5.6.7.8 / 32/13/2026 / 99:99 / 2026-13-45 / £ / $$ / +44",
        "SO-" + "1" * 300,
        "x" * 250_000,
    ],
    ids=["empty", "control-chars", "emoji", "long-number", "odd-shapes", "long-id", "huge"],
)
def test_odd_input_does_not_crash(answer: str) -> None:
    result = check(answer, [ORDER, PASSAGE], product_names=PRODUCTS)
    assert isinstance(result.passed, bool)


def test_an_invalid_date_is_read_as_numbers() -> None:
    assert [f.key for f in extract_facts("32/13/2026")] == ["num:32", "num:13", "num:2026"]


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(TypeError, match="answer must be a string"):
        check(None, [ORDER])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="context items must be ContextItem"):
        check("x", ["not an item"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not one string"):
        check("x", [ORDER], product_names="Blue Widget")


def test_product_names_come_from_the_erp_catalogue() -> None:
    engine = make_engine("sqlite://")
    create_schema(engine)
    with Session(engine) as session, session.begin():
        for sku, name in (("WID-1001", "Blue Widget"), ("CTL-1001", "X200 Controller")):
            session.add(
                Product(
                    sku=sku,
                    name=name,
                    category="Widgets",
                    unit_price=Decimal("1.00"),
                    description=name,
                )
            )
    with Session(engine) as session:
        names = product_names_from_erp(session=session)
    engine.dispose()
    assert names == {"Blue Widget", "X200 Controller"}


# --- Chinese number, date and money formats (issue 18) ------------------------------------


CHINESE_CONTEXT = ContextItem(
    "ERP invoice INV-200123",
    "invoice number: INV-200123\norder number: SO-104211\ndue date: 2026-10-31\n"
    "invoice total: 1,000.00 EUR\namount due: 400.00 EUR\ndays overdue: 12",
    "erp:invoice:INV-200123",
)


def test_a_faithful_chinese_answer_passes() -> None:
    answer = (
        "发票 INV-200123（订单 SO-104211）已逾期。总额 €1,000.00，尚欠 400.00欧元；"
        "到期日为2026年10月31日，已逾期 12 天。"
    )
    result = check(answer, [CHINESE_CONTEXT])
    assert result.passed and result.checked == 6, result


@pytest.mark.parametrize(
    ("answer", "unsupported"),
    [
        ("到期日为2026年11月30日。", ["2026年11月30日"]),
        ("到期日为10月30号。", ["10月30号"]),
        ("尚欠 500欧元。", ["500欧元"]),
        ("尚欠 ¥400。", ["¥400"]),
        ("已逾期 13 天。", ["13"]),
        ("尚欠４００．００英镑。", ["400.00英镑"]),
    ],
)
def test_a_changed_chinese_date_amount_or_number_fails(answer: str, unsupported: list) -> None:
    assert check(answer, [CHINESE_CONTEXT]).unsupported == unsupported


def test_chinese_commas_do_not_glue_numbers_together() -> None:
    keys = [f.key for f in extract_facts("退款600欧元，¥5,000，5000元")]
    assert keys == ["money:EUR:600", "money:CNY:5000", "money:CNY:5000"]

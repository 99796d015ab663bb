"""Answer metrics on hand-made cases whose scores are worked out by hand."""

from __future__ import annotations

import json

import pytest

from models.examples import REFUSAL, ContextItem, Example
from models.metrics import Report, exact_fact_match, is_refusal, score, token_f1


@pytest.mark.parametrize(
    ("prediction", "reference", "expected"),
    [
        # Articles go: [cat, sat] against [cat, sat, down]: P 1, R 2/3, F1 0.8.
        ("The cat sat", "a cat sat down", 0.8),
        ("We deliver in 2 days", "we deliver in 3 days", 0.8),
        ("Yes — within 30 days!", "yes within 30 days", 1.0),
        ("nothing alike", "completely different", 0.0),
        ("", "", 1.0),
        ("", "something", 0.0),
        # Repeated tokens count once per match: [a] x3 vs [a]: common 1, P 1/3, R 1, F1 0.5.
        ("ok ok ok", "ok", 0.5),
    ],
    ids=[
        "articles",
        "one-number",
        "punctuation-case",
        "disjoint",
        "both-empty",
        "one-empty",
        "repeats",
    ],
)
def test_token_f1(prediction: str, reference: str, expected: float) -> None:
    assert token_f1(prediction, reference) == pytest.approx(expected)


def test_exact_fact_match_reads_values_in_any_format() -> None:
    facts = ("2026-11-20", "1,234.50 GBP", "SO-100123", "DPD")
    assert exact_fact_match("Order 100123 (£1,234.50) arrives 20 Nov 2026 with dpd.", facts)
    assert not exact_fact_match("Order 100123 (£1,234.50) arrives 21 Nov 2026 with DPD.", facts)
    assert not exact_fact_match("Order 100123 arrives 20 Nov 2026 with DPD.", facts)
    assert not exact_fact_match("Order 100123 (£1,234.50) arrives 20 Nov 2026.", facts)
    assert exact_fact_match("anything", ())


def test_exact_fact_match_of_words_needs_whole_words() -> None:
    assert exact_fact_match("Your order is on hold.", ("on hold",))
    assert not exact_fact_match("Your order is on holdover.", ("on hold",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (REFUSAL, True),
        ("I'm sorry, I can't find that in the information I have", True),
        ("Sorry, I don't know.", True),
        ("I do not have that information.", True),
        ("I couldn't find anything about that.", True),
        ("That is not in the information I have.", True),
        ("No — we do not deliver to Norway.", False),
        ("You cannot return opened items.", False),
        ("Sorry for the wait: your order has shipped.", False),
    ],
    ids=[
        "exact",
        "no-full-stop",
        "dont-know",
        "no-information",
        "could-not-find",
        "not-in-information",
        "answer-with-no",
        "answer-with-cannot",
        "apology-with-answer",
    ],
)
def test_is_refusal(text: str, expected: bool) -> None:
    assert is_refusal(text) is expected


def _example(kind: str, answer: str, context: str, facts: tuple[str, ...] = ()) -> Example:
    return Example(
        id=kind,
        kind=kind,  # type: ignore[arg-type]
        question="?",
        context=(ContextItem("source", context, "ref"),),
        answer=answer,
        facts=facts,
    )


def test_score_aggregates_by_hand() -> None:
    examples = [
        _example("document", "We deliver in 2 days", "Delivery takes 2 days.", ("2",)),
        _example(
            "erp",
            "Invoice INV-200123 is due on 2026-11-20.",
            "invoice number: INV-200123\ndue date: 2026-11-20",
            ("2026-11-20",),
        ),
        _example("refusal", REFUSAL, "Returns take 5 days."),
        _example("refusal", REFUSAL, "Returns take 5 days."),
        _example("document", "Yes — you can.", "You can return it."),
    ]
    predictions = [
        "We deliver in 2 days",  # F1 1, facts found, grounded
        # [invoice inv 200123 is due on 21 november 2026] against
        # [invoice inv 200123 is due on 2026 11 20]: 7 common of 9 and 9: F1 7/9;
        # the date is wrong (no fact match) and invented (not grounded).
        "Invoice INV-200123 is due on 21 November 2026.",
        REFUSAL,  # a right refusal
        "We deliver in 3 days.",  # a missed refusal, and 3 is not in its context
        "Sorry, I don't know.",  # a wrong refusal of an answerable question: F1 0
    ]
    report = score(examples, predictions)
    assert report.n == 5
    assert report.answerable == 3
    assert report.with_facts == 2
    assert report.answered == 3
    assert report.refusals == 2
    assert report.token_f1 == pytest.approx((1 + 7 / 9 + 0) / 3)
    assert report.exact_fact_match == pytest.approx(1 / 2)
    assert report.faithfulness == pytest.approx(1 / 3)
    assert report.refusal_precision == pytest.approx(1 / 2)
    assert report.refusal_recall == pytest.approx(1 / 2)


def test_report_renders_as_a_markdown_row_and_json() -> None:
    report = Report(
        n=10,
        answerable=8,
        with_facts=4,
        answered=8,
        refusals=2,
        token_f1=0.6234,
        exact_fact_match=0.5,
        faithfulness=1.0,
        refusal_precision=None,
        refusal_recall=0.0,
    )
    header = Report.markdown_header().splitlines()
    row = report.markdown_row("fine-tuned")
    assert row == "| fine-tuned | 10 | 62.3 | 50.0% | 100.0% | n/a | 0.0% |"
    assert row.count("|") == header[0].count("|") == header[1].count("|")
    assert json.loads(json.dumps(report.to_json()))["token_f1"] == 0.6234


def test_score_needs_one_prediction_per_example() -> None:
    with pytest.raises(ValueError, match="one prediction per example, got 0 for 1"):
        score([_example("document", "a", "a")], [])


def test_score_of_nothing_is_undefined_not_zero() -> None:
    report = score([], [])
    assert report.n == 0
    assert report.token_f1 is None and report.refusal_recall is None

"""Answer quality on held-out examples: token F1, exact-fact match, faithfulness, refusals.

Example:
    >>> report = score(examples, predictions)
    >>> print(Report.markdown_header())
    >>> print(report.markdown_row("fine-tuned"))
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from models import guard
from models.examples import REFUSAL, Example

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation) | frozenset("‘’“”–—…£€")
_REFUSALS = tuple(
    re.compile(pattern)
    for pattern in (
        r"^i'?m sorry,? (but )?i (can'?t|cannot|could ?n'?t|could not|was unable to|am unable to)"
        r" (find|see|locate)",
        r"^(sorry,? )?i (can'?t|cannot|could ?n'?t|could not) (find|see|locate|answer|tell)",
        r"^(sorry,? )?i (don'?t|do not) "
        r"(know|have (that|this|the|any|enough) (information|details))",
        r"^(sorry,? )?i'?m (not sure|unable to (find|answer|tell))",
        r"(not|isn'?t) in the (information|context|documents|details|passages) i have",
        r"^(sorry,? )?(there is|there'?s) no information (about|on) (that|this)",
        r"^(sorry,? )?the (information|context|documents) (i have )?"
        r"(does|do) ?n[o']?t (say|mention|cover)",
    )
)


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = guard.normalise_text(text).lower()
    text = "".join(" " if char in _PUNCTUATION else char for char in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1 between a prediction and a reference answer (0.0 to 1.0).

    Example:
        >>> token_f1("We deliver in 2 days", "we deliver in 3 days")
        0.8

    Raises:
        TypeError: Either argument is not a string.
    """
    predicted = normalise_answer(prediction).split()
    expected = normalise_answer(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(expected)
    return 2 * precision * recall / (precision + recall)


def exact_fact_match(
    prediction: str, facts: Sequence[str], *, product_names: Collection[str] = ()
) -> bool:
    """True when the prediction states every fact, in any format the guard normalises.

    A fact with a checkable value ("2026-11-20", "1,234.50 GBP", "SO-100123") must appear
    with that value ("20 Nov 2026", "£1,234.50", "order 100123"); a fact that is only words
    ("DPD", "shipped") must appear as words, ignoring case and punctuation. No facts: True.

    Raises:
        TypeError: ``prediction`` or a fact is not a string.
    """
    keys = guard.support_keys(prediction, product_names=product_names)
    words = f" {normalise_answer(prediction)} "
    for fact in facts:
        values = guard.extract_facts(fact, product_names=product_names)
        if values:
            if not all(value.key in keys for value in values):
                return False
        elif f" {normalise_answer(fact)} " not in words:
            return False
    return True


def is_refusal(text: str) -> bool:
    """True for the refusal sentence and close variants ("Sorry, I don't know.").

    Raises:
        TypeError: ``text`` is not a string.
    """
    cleaned = " ".join(guard.normalise_text(text).strip().lower().replace("’", "'").split())
    if cleaned == REFUSAL.lower():
        return True
    return any(pattern.search(cleaned) for pattern in _REFUSALS)


@dataclass(frozen=True)
class Report:
    """Scores of one system on one example set; rates are 0-1, None when undefined.

    ``token_f1`` and ``exact_fact_match`` are over answerable examples (the latter only those
    with facts); ``faithfulness`` is over predictions that are not refusals; refusal
    precision and recall treat kind "refusal" as the positive class.
    """

    n: int
    answerable: int
    with_facts: int
    answered: int
    refusals: int
    token_f1: float | None
    exact_fact_match: float | None
    faithfulness: float | None
    refusal_precision: float | None
    refusal_recall: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def markdown_header() -> str:
        """The header and separator lines of the table :meth:`markdown_row` fills."""
        return (
            "| system | n | token F1 | exact-fact match | faithfulness | refusal precision "
            "| refusal recall |\n|---|---:|---:|---:|---:|---:|---:|"
        )

    def markdown_row(self, name: str) -> str:
        """One table row: F1 in points (0-100), the rates as percentages."""
        cells = [
            name,
            str(self.n),
            _points(self.token_f1),
            _percent(self.exact_fact_match),
            _percent(self.faithfulness),
            _percent(self.refusal_precision),
            _percent(self.refusal_recall),
        ]
        return "| " + " | ".join(cells) + " |"


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def score(
    examples: Sequence[Example],
    predictions: Sequence[str],
    product_names: Collection[str] = (),
) -> Report:
    """Score predictions against their examples.

    Args:
        examples: The evaluation examples.
        predictions: One generated answer per example, in the same order.
        product_names: Catalogue names the guard treats as facts.

    Returns:
        The aggregate report.

    Raises:
        ValueError: The two sequences differ in length.
        TypeError: A prediction is not a string.
    """
    if len(examples) != len(predictions):
        raise ValueError(
            f"need one prediction per example, got {len(predictions)} for {len(examples)}"
        )
    f1s: list[float] = []
    fact_hits: list[float] = []
    faithful: list[float] = []
    true_refusals = predicted_refusals = gold_refusals = 0
    for example, prediction in zip(examples, predictions, strict=True):
        refused = is_refusal(prediction)
        if example.kind == "refusal":
            gold_refusals += 1
            true_refusals += refused
        else:
            f1s.append(token_f1(prediction, example.answer))
            if example.facts:
                hit = exact_fact_match(prediction, example.facts, product_names=product_names)
                fact_hits.append(float(hit))
        if refused:
            predicted_refusals += 1
        else:
            result = guard.check(prediction, example.context, product_names=product_names)
            faithful.append(float(result.passed))
    return Report(
        n=len(examples),
        answerable=len(f1s),
        with_facts=len(fact_hits),
        answered=len(faithful),
        refusals=gold_refusals,
        token_f1=_mean(f1s),
        exact_fact_match=_mean(fact_hits),
        faithfulness=_mean(faithful),
        refusal_precision=true_refusals / predicted_refusals if predicted_refusals else None,
        refusal_recall=true_refusals / gold_refusals if gold_refusals else None,
    )

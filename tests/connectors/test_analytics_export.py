"""The analytics report as CSV (every figure, nothing a spreadsheet would run) and as SVG
charts (well-formed, every label escaped)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree

import pytest

from connectors.analytics.charts import FIGURES, bar_chart, chart
from connectors.analytics.compute import compute_report
from connectors.analytics.export import report_csv
from connectors.analytics.records import GatewayFacts, HandoffFact
from tests.connectors.analytics_log import (
    DAY,
    DOC,
    EVENTS,
    FACTS,
    QUERY,
    action,
    bot,
    session,
    user,
)

SVG = "{http://www.w3.org/2000/svg}"


def test_the_csv_holds_every_figure_of_the_report() -> None:
    rows = list(csv.reader(io.StringIO(report_csv(compute_report(EVENTS, FACTS, QUERY)))))

    assert rows[:4] == [
        ["section", "name", "value"],
        ["range", "from", "2026-11-02"],
        ["range", "to", "2026-11-03"],
        ["range", "channel", "all"],
    ]
    summary = {name: value for section, name, value in rows if section == "summary"}
    assert summary == {
        "conversations": "7", "contained": "2", "containment_rate": "0.2857",
        "with_handoff": "4", "handoff_rate": "0.5714", "ended_unanswered": "1", "handoffs": "4",
        "user_turns": "12", "fallback_turns": "4", "fallback_rate": "0.3333",
        "document_questions": "4", "dont_know": "3", "dont_know_rate": "0.75",
    }  # fmt: skip
    assert ["handoffs_per_day", "2026-11-02", "4"] in rows
    assert ["handoff_reasons", "sensitive_topic:legal", "1"] in rows
    assert ["top_intents", "ask_document", "3"] in rows
    assert ["csat", "average", "3"] in rows
    assert ["csat_distribution", "4", "1"] in rows
    assert ["first_response", "unanswered", "1"] in rows


def test_a_question_that_looks_like_a_formula_stays_text() -> None:
    events = [
        session("web:f", DAY + 1),
        user("web:f", DAY + 1, "ask_document", '=HYPERLINK("http://evil.example","x")'),
        action("web:f", DAY + 2, DOC),
        bot("web:f", DAY + 2, response="utter_document_unknown"),
        user("web:f", DAY + 3, "ask_document", "-1+2"),
        action("web:f", DAY + 4, DOC),
        bot("web:f", DAY + 4, response="utter_document_unknown"),
    ]

    rows = list(csv.reader(io.StringIO(report_csv(compute_report(events, GatewayFacts(), QUERY)))))

    questions = [name for section, name, _ in rows if section == "unanswered_questions"]
    assert sorted(questions) == ["'-1+2", '\'=HYPERLINK("http://evil.example","x")']


@pytest.mark.parametrize("figure", FIGURES)
def test_every_chart_is_well_formed_svg(figure: str) -> None:
    report = compute_report(EVENTS, FACTS, QUERY)

    root = ElementTree.fromstring(chart(report, figure))

    assert root.tag == f"{SVG}svg"
    assert root.findall(f".//{SVG}rect")  # the background at least
    assert root.find(f"{SVG}text") is not None


def test_the_bars_show_their_labels_and_values() -> None:
    report = compute_report(EVENTS, FACTS, QUERY)
    root = ElementTree.fromstring(chart(report, "per_channel"))

    texts = [t.text for t in root.iter(f"{SVG}text")]

    assert texts[0] == "Conversations per channel"
    assert texts[1:] == ["web", "4", "rest", "1", "slack", "1", "telegram", "1"]


def test_labels_are_escaped() -> None:
    facts = GatewayFacts(handoffs=[HandoffFact(1, "web:x", "web", "<script>&'", DAY + 5)])
    report = compute_report([], facts, QUERY)

    svg = chart(report, "handoff_reasons")

    assert "<script>" not in svg
    assert "&lt;script&gt;&amp;" in svg
    ElementTree.fromstring(svg)


def test_an_empty_range_says_so() -> None:
    report = compute_report([], GatewayFacts(), QUERY)

    for figure in ("per_day", "per_channel", "top_intents", "handoff_reasons"):
        assert "Nothing in this range." in chart(report, figure)
    # The rating scale is shown even with no rating.
    assert "Nothing in this range." not in chart(report, "csat")
    assert "Nothing in this range." in bar_chart("x", [])


def test_an_unknown_chart_is_refused() -> None:
    with pytest.raises(ValueError, match="figure must be one of per_day"):
        chart(compute_report([], GatewayFacts(), QUERY), "pie")

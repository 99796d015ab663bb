"""Chart payloads in replies: checked and decoded, or dropped with the reason; titles and alt
text cleaned; what the transcript and the console's JSON make of a chart."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from connectors.charts import (
    MAX_ALT_CHARS,
    MAX_ENCODED_CHARS,
    MAX_TITLE_CHARS,
    chart_of,
    one_line,
    parse_chart,
    transcript_text,
    with_chart,
)
from connectors.messages import OutgoingMessage
from connectors.store import entry_body
from tests.connectors.fakes import chart_reply, tiny_png

PNG = base64.b64encode(tiny_png()).decode()


def test_a_well_formed_chart_is_decoded() -> None:
    chart = chart_of(chart_reply())

    assert chart is not None
    assert chart.png == tiny_png() and chart.title == "WID-1001: sales and stock"
    assert chart.line == "[chart] WID-1001: sales and stock"
    assert len(chart.digest) == 16
    assert "png=" not in repr(chart)  # a logged chart is never 300 KB of bytes


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("a string", "chart must be an object, got str"),
        ({"title": 7, "png": PNG}, "title and alt must be strings"),
        ({"title": "t", "alt": ["a"], "png": PNG}, "title and alt must be strings"),
        ({"title": "\n\t ", "png": PNG}, "title must not be empty"),
        ({"title": "t"}, "png must be a base64 string"),
        ({"title": "t", "png": b"\x89PNG"}, "png must be a base64 string"),
        ({"title": "t", "png": "A" * (MAX_ENCODED_CHARS + 4)}, "the limit is 400000"),
        ({"title": "t", "png": "iVBOR w0K"}, "png is not valid base64"),
        ({"title": "t", "png": base64.b64encode(b"GIF89a....").decode()}, "not a PNG image"),
    ],
    ids=["not-an-object", "title-not-text", "alt-not-text", "blank-title", "no-png",
         "png-bytes", "over-the-cap", "not-base64", "a-gif"],
)  # fmt: skip
def test_a_malformed_chart_is_dropped_with_the_reason(
    payload: Any, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    chart, problem = parse_chart(payload)
    assert chart is None and reason in problem

    with caplog.at_level(logging.WARNING, logger="connectors"):
        assert chart_of(OutgoingMessage(custom={"chart": payload})) is None
        assert chart_of(OutgoingMessage(custom={"chart": payload}), log=False) is None

    assert [r.getMessage() for r in caplog.records] == [f"chart dropped from a reply: {problem}"]


def test_replies_without_a_chart_have_none() -> None:
    assert chart_of(OutgoingMessage(text="hi")) is None
    assert chart_of(OutgoingMessage(custom={"agent": "bob"})) is None


def test_title_and_alt_are_one_clean_line_cut_to_their_limits() -> None:
    payload = {"title": "Stock\n of\u202e WID\x07-1001 " + "x" * 500, "alt": "a\r\nb" * 2000,
               "png": PNG}  # fmt: skip

    chart, _ = parse_chart(payload)

    assert chart is not None
    assert chart.title.startswith("Stock of WID-1001 x") and chart.title.endswith("...")
    assert len(chart.title) == MAX_TITLE_CHARS and len(chart.alt) == MAX_ALT_CHARS
    assert "\n" not in chart.alt
    assert one_line(" a \t b ", 10) == "a b"
    untitled, _ = parse_chart({"title": "Ageing", "png": PNG})
    assert untitled is not None and untitled.alt == "Ageing"  # the title stands in for alt


def test_the_transcript_keeps_a_line_and_a_digest_not_the_picture() -> None:
    alone, with_text = chart_reply(), chart_reply(text="Here it is.")
    chart = chart_of(alone)

    assert transcript_text(alone, chart) == "[chart] WID-1001: sales and stock"
    assert transcript_text(with_text, chart) == "Here it is.\n[chart] WID-1001: sales and stock"
    body = entry_body(alone)
    assert body["text"] == "[chart] WID-1001: sales and stock"
    assert chart is not None and body["chart"]["digest"] == chart.digest
    assert PNG not in str(body)
    assert entry_body(OutgoingMessage(text="plain")) == {"text": "plain", "buttons": [],
                                                         "image": None}  # fmt: skip


def test_the_console_json_has_the_chart_as_a_data_url_and_keeps_other_custom_fields() -> None:
    reply = chart_reply()
    assert reply.custom is not None
    reply.custom["agent"] = "bob"

    shown = with_chart(reply)

    assert shown["chart"]["src"] == "data:image/png;base64," + PNG
    assert shown.get("custom") == {"agent": "bob"}
    assert with_chart(OutgoingMessage(text="hi", image="https://x/y.png")) == {
        "text": "hi", "buttons": [], "image": "https://x/y.png",
    }  # fmt: skip

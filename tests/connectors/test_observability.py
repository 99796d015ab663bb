"""The gateway's /metrics (closed without METRICS_TOKEN) and its JSON logs: turns, handoffs and
errors counted per channel, rule and kind; every line of a turn tagged with its conversation,
never its id, and concurrent turns never sharing a tag."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.settings import LOG_FORMAT, LOG_LEVEL, GatewaySettings
from contracts.logs import conversation_logged, json_handler
from contracts.redaction import conversation_tag
from envvars import SettingsError
from tests.connectors.fakes import SETTINGS, FakeRasa, MakeClient

METRICS_TOKEN = "metrics-token-0123456789"
WITH_METRICS = dataclasses.replace(
    SETTINGS, metrics_token=METRICS_TOKEN, rate_limit_burst=100, rate_limit_per_minute=1000
)
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}

test_logger = logging.getLogger("connectors.tests")


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, by name and sorted labels."""
    response = await client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def say(client: httpx.AsyncClient, sender: str, text: str) -> httpx.Response:
    return await client.post("/api/messages", json={"sender_id": sender, "text": text})


class LoggingRasa(FakeRasa):
    """A Rasa that logs what it was sent, as careless code might, after a pause of its own."""

    async def send(self, message: IncomingMessage) -> list[OutgoingMessage]:
        number = int(message.text.rsplit(" ", 1)[-1]) if message.text[-1].isdigit() else 0
        await asyncio.sleep(0.001 * (number % 4))
        test_logger.info("rasa got %r (message %d)", message.text, number)
        return await super().send(message)


@pytest.fixture
def fake_rasa() -> FakeRasa:
    """The apps of these tests talk to a Rasa that logs during each turn."""
    return LoggingRasa()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the gateway logs at INFO during the test, as LOG_FORMAT=json writes it."""
    stream = io.StringIO()
    handler = json_handler(stream)
    gateway = logging.getLogger("connectors")
    level = gateway.level
    gateway.addHandler(handler)
    gateway.setLevel(logging.INFO)
    yield stream
    gateway.removeHandler(handler)
    gateway.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- who may read /metrics ------------------------------------------------------------------


async def test_without_a_metrics_token_metrics_is_not_there(make_client: MakeClient) -> None:
    client = await make_client(settings=SETTINGS)

    for headers in ({}, SCRAPER):
        assert (await client.get("/metrics", headers=headers)).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": METRICS_TOKEN},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": "Bearer ünïcode".encode()},
    ],
    ids=["none", "wrong", "no-scheme", "other-scheme", "longer", "non-ascii"],
)
async def test_metrics_refuses_a_scraper_without_the_token(
    make_client: MakeClient, headers: dict[str, str | bytes]
) -> None:
    client = await make_client(settings=WITH_METRICS)

    response = await client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "erp_assistant" not in response.text


def test_metrics_token_is_a_secret_setting() -> None:
    settings = GatewaySettings.from_env({"METRICS_TOKEN": f" {METRICS_TOKEN} "})

    assert settings.metrics_token == METRICS_TOKEN
    assert METRICS_TOKEN not in repr(settings)
    assert GatewaySettings.from_env({}).metrics_token == ""
    with pytest.raises(SettingsError, match="METRICS_TOKEN must be at least 16 characters"):
        GatewaySettings.from_env({"METRICS_TOKEN": "short"})


# --- what /metrics counts -------------------------------------------------------------------


async def test_turns_through_the_gateway_move_their_channel_s_counter_and_histogram(
    make_client: MakeClient,
) -> None:
    client = await make_client(settings=WITH_METRICS)
    before = await scrape(client)

    for n in range(3):
        assert (await say(client, f"u-{n}", "where is my order?")).status_code == 200

    after = await scrape(client)
    turns = "erp_assistant_gateway_turns_total"
    assert value(after, turns, channel="rest", outcome="rasa") == 3
    assert value(before, turns, channel="rest", outcome="rasa") == 0
    assert value(after, "erp_assistant_gateway_turn_seconds_count", channel="rest") == 3
    assert value(after, "erp_assistant_gateway_turn_seconds_sum", channel="rest") > 0
    assert value(after, turns, channel="web", outcome="rasa") == 0
    # Labels come from fixed sets: no conversation id reaches them.
    assert not any("u-0" in str(key) for key in after)


async def test_handoffs_are_counted_by_trigger_rule(
    make_client: MakeClient, fake_rasa: FakeRasa
) -> None:
    client = await make_client(settings=WITH_METRICS)

    await say(client, "u-1", "/request_human")
    fake_rasa.replies = [
        OutgoingMessage(
            text="getting a colleague",
            custom={"handoff": {"rule": "repeated_fallback", "score": 0.2, "slots": {}}},
        )
    ]
    await say(client, "u-2", "blah")

    samples = await scrape(client)
    handoffs = "erp_assistant_gateway_handoffs_total"
    assert value(samples, handoffs, rule="user_request") == 1
    assert value(samples, handoffs, rule="repeated_fallback") == 1
    turns = "erp_assistant_gateway_turns_total"
    assert value(samples, turns, channel="rest", outcome="handoff") == 1
    assert value(samples, turns, channel="rest", outcome="rasa") == 1


async def test_errors_are_counted_by_kind(make_client: MakeClient, fake_rasa: FakeRasa) -> None:
    client = await make_client(
        settings=dataclasses.replace(WITH_METRICS, rate_limit_burst=1, rate_limit_per_minute=1)
    )
    fake_rasa.up = False

    assert (await say(client, "u-1", "hello")).status_code == 503
    assert (await say(client, "u-1", "hello again")).status_code == 429
    too_big = await client.post(
        "/api/messages", content=b"x" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert too_big.status_code == 413
    await client.get("/metrics")  # a scraper without the token

    samples = await scrape(client)
    errors = "erp_assistant_gateway_errors_total"
    assert value(samples, errors, kind="rasa_unavailable") == 1
    assert value(samples, errors, kind="body_too_large") == 1
    assert value(samples, errors, kind="unauthorized") == 1
    assert value(samples, errors, kind="rate_limited") == 1
    turns = "erp_assistant_gateway_turns_total"
    assert value(samples, turns, channel="rest", outcome="rasa_unavailable") == 1
    assert value(samples, turns, channel="rest", outcome="rate_limited") == 1
    # Only answered turns are timed.
    assert value(samples, "erp_assistant_gateway_turn_seconds_count", channel="rest") == 0


async def test_each_app_counts_in_a_registry_of_its_own(make_client: MakeClient) -> None:
    first = await make_client(settings=WITH_METRICS)
    second = await make_client(settings=WITH_METRICS)

    await say(first, "u-1", "hello")

    turns = "erp_assistant_gateway_turns_total"
    assert value(await scrape(first), turns, channel="rest", outcome="rasa") == 1
    assert value(await scrape(second), turns, channel="rest", outcome="rasa") == 0


# --- JSON logs ------------------------------------------------------------------------------


async def test_a_json_line_of_a_turn_carries_the_tag_not_the_sender_or_an_email(
    make_client: MakeClient, json_lines: io.StringIO
) -> None:
    client = await make_client(settings=WITH_METRICS)

    response = await say(client, "jo@example.com", "my email is jo@example.com, ring 07700 900123")

    assert response.status_code == 200
    lines = parsed(json_lines)
    tag = conversation_tag("rest:local:jo@example.com")
    rasa_line = next(line for line in lines if line["logger"] == "connectors.tests")
    assert rasa_line["conversation"] == tag
    assert rasa_line["level"] == "INFO" and rasa_line["timestamp"]
    assert "[email]" in rasa_line["message"] and "[phone]" in rasa_line["message"]
    turn_line = next(line for line in lines if line["message"].startswith("turn "))
    assert turn_line["conversation"] == tag
    raw = json_lines.getvalue()
    assert "jo@example.com" not in raw and "rest:local:jo" not in raw and "07700" not in raw


async def test_twenty_concurrent_turns_each_log_with_their_own_tag(
    make_client: MakeClient, json_lines: io.StringIO
) -> None:
    client = await make_client(settings=WITH_METRICS)

    responses = await asyncio.gather(*(say(client, f"user-{n}", f"hi {n}") for n in range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    lines = parsed(json_lines)
    from_rasa = [line for line in lines if line["logger"] == "connectors.tests"]
    assert len(from_rasa) == 20
    for line in from_rasa:
        number = int(line["message"].rsplit(" ", 1)[-1].rstrip(")"))
        assert line["conversation"] == conversation_tag(f"rest:local:user-{number}"), line
    turn_lines = [line for line in lines if line["message"].startswith("turn ")]
    assert len(turn_lines) == 20
    for line in turn_lines:
        assert f"conversation={line['conversation']} " in line["message"]
    assert len({line["conversation"] for line in turn_lines}) == 20


def test_a_line_outside_a_turn_has_no_conversation_and_the_tag_ends_with_the_block() -> None:
    stream = io.StringIO()
    handler = json_handler(stream)
    test_logger.addHandler(handler)
    try:
        with conversation_logged("c-0123456789"):
            test_logger.warning("inside")
        test_logger.warning("outside")
    finally:
        test_logger.removeHandler(handler)

    inside, outside = parsed(stream)
    assert inside["conversation"] == "c-0123456789"
    assert "conversation" not in outside


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, "text"), ("", "text"), ("JSON", "json"), (" text ", "text")],
    ids=["unset", "empty", "upper-case", "spaces"],
)
def test_log_format(raw: str | None, expected: str) -> None:
    assert LOG_FORMAT.read({} if raw is None else {"LOG_FORMAT": raw}) == expected


def test_an_unknown_log_format_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="LOG_FORMAT must be text or json, got 'xml'"):
        LOG_FORMAT.read({"LOG_FORMAT": "xml"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, "INFO"), ("", "INFO"), ("debug", "DEBUG"), (" Warning ", "WARNING")],
    ids=["unset", "empty", "lower-case", "spaces"],
)
def test_log_level(raw: str | None, expected: str) -> None:
    assert LOG_LEVEL.read({} if raw is None else {"LOG_LEVEL": raw}) == expected


def test_a_log_level_uvicorn_does_not_know_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="LOG_LEVEL must be DEBUG, INFO, .* got 'warn'"):
        LOG_LEVEL.read({"LOG_LEVEL": "warn"})

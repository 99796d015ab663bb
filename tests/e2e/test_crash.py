"""Nothing users send may crash a process: 20 handoffs at once plus document questions, with
the real generator writing handoff summaries and document answers (issue 12, finding 3)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from connectors.turns import UNAVAILABLE_MESSAGE
from tests.e2e.conftest import Assistant, start_assistant

pytestmark = pytest.mark.e2e

HANDOFFS = 20
DOCUMENT_QUESTIONS = 8


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    overrides = {
        "GENERATOR_BACKEND": "llama_cpp",
        "HANDOFF_SUMMARY": "generator",
        "GENERATOR_THREADS": "1",
    }
    with start_assistant(tmp_path_factory.mktemp("crash"), overrides) as assistant:
        yield assistant


def _turn(url: str, sender: str, text: str) -> tuple[int, dict]:
    with httpx.Client(base_url=url, timeout=180) as client:
        response = client.post("/api/messages", json={"sender_id": sender, "text": text})
        return response.status_code, response.json()


def test_twenty_handoffs_and_document_questions_at_once_crash_nothing(
    loaded: Assistant,
) -> None:
    turns = [(f"crash-handoff-{i}", "I want to talk to a human please") for i in range(HANDOFFS)]
    turns += [
        (f"crash-docs-{i}", question)
        for i, question in enumerate(
            ["what is your return window?", "do you ship to Norway?"] * (DOCUMENT_QUESTIONS // 2)
        )
    ]

    with ThreadPoolExecutor(max_workers=len(turns)) as pool:
        results = list(pool.map(lambda turn: _turn(loaded.url, *turn), turns))

    handoffs, documents = results[:HANDOFFS], results[HANDOFFS:]
    # A handoff turn never waits for the model (its summary is written afterwards).
    assert [status for status, _ in handoffs] == [200] * HANDOFFS
    assert all(any(m.get("text") for m in body["messages"]) for _, body in handoffs)
    # Document answers queue behind the one model in the action server (issue 13 takes it
    # off their path): each gets its answer, or past the gateway's Rasa timeout the clear
    # "please try again" error, never a dropped connection.
    for status, body in documents:
        if status == 200:
            assert any(m.get("text") for m in body["messages"]), body
        else:
            assert (status, body) == (503, {"error": UNAVAILABLE_MESSAGE})
    # The summaries are written after the handoffs exist: give them time to run (or crash).
    gateway_db = loaded.service("gateway").env["GATEWAY_DB"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sqlite3.connect(gateway_db) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM handoffs").fetchone()
        if count >= HANDOFFS:
            break
        time.sleep(1)
    assert count == HANDOFFS
    time.sleep(10)
    assert [s.name for s in loaded.services if s.exited() is not None] == []
    assert loaded.client.get("/healthz").status_code == 200
    gateway_log = loaded.service("gateway").log_file.read_text(errors="replace")
    assert "Traceback" not in gateway_log

"""`make bench-scale-short` in CI: bench_scale's two runs, short, against the real services.
First the scaling comparison (4 web chat users for 20 s on one, then on two replicas of the
gateway, Rasa and the action server behind HAProxy: both must serve every turn); then the fault
run on two replicas (a fault every 8 s, about a minute and a half): one replica of each killed
with SIGKILL, then PostgreSQL, Redis and RabbitMQ restarted.

What must hold: each fault has its window of turns; no user message is lost (every message
sent got an answer or a clear error, and is in the gateways' shared transcript, answered
there when it was answered in the window); windows on the killed gateway carry on on the other
replica; the services are running again afterwards, for the rest of the suite.

The run uses its own PRODUCTION_NAME and Redis db; it restarts the machine's PostgreSQL,
Redis (which keeps nothing on disk: the other profiles' Redis accounts are gone until their
next start provisions them again) and RabbitMQ, so it runs alone, as the e2e suite does.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from benchmarks.load.records import Turn, read_turns
from benchmarks.load.scripts import CONNECT
from benchmarks.scale import REDIS_START, clear_error
from bot import paths
from bot.profile import ACCOUNT_SECRETS, Production
from bot.secrets import shared_secrets

pytestmark = pytest.mark.e2e

NAME = "erp_e2e_scale_short"
LOCK_DB = "8"
FAULTS = [
    "none (before the first fault)",
    "SIGKILL rasa-1",
    "SIGKILL actions-1",
    "SIGKILL gateway-1",
    "restart PostgreSQL",
    "restart Redis",
    "restart RabbitMQ",
]
RUN_TIMEOUT_S = 900


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def services_running() -> dict[str, bool]:
    """Whether PostgreSQL, Redis and RabbitMQ answer on this machine."""
    redis = subprocess.run(["redis-cli", "ping"], capture_output=True, text=True, timeout=10)
    return {
        "PostgreSQL": listening(5432),
        "Redis": redis.stdout.strip() == "PONG",
        "RabbitMQ": listening(5672),
    }


def rabbitmqctl(command: str) -> int:
    return subprocess.run(
        ["rabbitmqctl", "-q", command], capture_output=True, timeout=120, check=False
    ).returncode


def start_what_is_down() -> None:
    """Start any of the three that a restart left down, the way the machine starts them."""
    running = services_running()
    if not running["PostgreSQL"]:
        version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                       capture_output=True, timeout=120, check=False)  # fmt: skip
    if not running["Redis"]:
        subprocess.run(REDIS_START, capture_output=True, timeout=60, check=False)
    # The node may be up with its application stopped (a stop_app without its start_app).
    if not running["RabbitMQ"] and rabbitmqctl("start_app") != 0:
        subprocess.run(["rabbitmq-server", "-detached"], capture_output=True, timeout=60,
                       check=False)  # fmt: skip
    deadline = time.monotonic() + 60
    while not all(services_running().values()) and time.monotonic() < deadline:
        time.sleep(1)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The bench's JSON results (benchmarks/scale.py), once for the module."""
    out = tmp_path_factory.mktemp("scale-short") / "scale.json"
    command = [paths.main_python(), "-m", "benchmarks.scale", "--short",
               "--name", NAME, "--lock-db", LOCK_DB, "--out", str(out)]  # fmt: skip
    try:
        done = subprocess.run(command, cwd=paths.ROOT, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S, check=False)  # fmt: skip
    finally:
        start_what_is_down()
    print(done.stdout[-6000:])
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    yield json.loads(out.read_text())


@pytest.fixture(scope="module")
def turns(short_run: dict[str, Any]) -> list[Turn]:
    return read_turns(Path(short_run["fault_records"]))


# Each conversation's transcript: (role, text), oldest first.
Entries = dict[str, list[tuple[str, str | None]]]


def transcripts(short_run: dict[str, Any], conversations: set[str]) -> Entries:
    """Each conversation's transcript as the gateways stored it: (role, text), oldest first."""
    settings = Production.from_env({"PRODUCTION_NAME": NAME, "RASA_LOCK_REDIS_DB": LOCK_DB})
    secrets = Path(short_run["fault_work"]) / "secrets.json"
    passwords = shared_secrets(secrets, environ={}, names=ACCOUNT_SECRETS)
    with psycopg.connect(
        host="127.0.0.1", dbname=settings.gateway_database, user=settings.gateway_role,
        password=passwords["GATEWAY_DATABASE_PASSWORD"],
    ) as db:  # fmt: skip
        rows = db.execute(
            "SELECT conversation_id, role, body FROM transcript "
            "WHERE conversation_id = ANY(%s) ORDER BY id",
            (sorted(conversations),),
        ).fetchall()
    stored: Entries = defaultdict(list)
    for conversation, role, body in rows:
        stored[conversation].append((role, json.loads(body).get("text")))
    return stored


def may_be_missing(turn: Turn, windows: list[dict[str, Any]]) -> bool:
    """Whether a message may be missing from the transcript: its gateway replica died before
    storing it (the window's socket dropped), it was sent as the run ended (the stack stops
    right after; one that hung longer than the bench's turn timeout counts as unanswered), or
    it was refused with a clear error while PostgreSQL restarted (the gateway's own database
    was down: it could not keep the message and told the user to send it again)."""
    error = turn.error or ""
    if turn.cut_off or error.startswith(("disconnected", "not sent")):
        return True
    return clear_error(error) and fault_at(turn, windows) == "restart PostgreSQL"


def fault_at(turn: Turn, windows: list[dict[str, Any]]) -> str | None:
    """The fault whose window the turn started in (benchmarks/scale.py's attribution)."""
    starts = [(w["at"], w["fault"]) for w in windows]
    found = None
    for at, fault in starts:
        if turn.at >= at:
            found = fault
    return found


def test_one_and_two_replicas_each_answered_every_turn_of_the_short_load(
    short_run: dict[str, Any],
) -> None:
    runs = short_run["runs"]

    assert [r["generator"] for r in runs] == ["1 replica", "2 replicas"]
    for run in runs:
        overall = run["overall"]
        assert overall["turns"] >= 10, run
        assert overall["errors"] == 0, run


def test_every_fault_has_its_window_of_turns(short_run: dict[str, Any]) -> None:
    windows = short_run["faults"]

    assert [w["fault"] for w in windows] == FAULTS
    assert all(w["turns"] > 0 for w in windows), windows
    assert [w["at_s"] for w in windows] == sorted(w["at_s"] for w in windows)


def test_every_message_got_an_answer_or_a_clear_error(
    short_run: dict[str, Any], turns: list[Turn]
) -> None:
    sent = [t for t in turns if t.kind != CONNECT and not t.cut_off]
    lost = [t for t in sent if t.error is not None and not clear_error(t.error)]

    assert len(sent) >= 30, len(sent)
    assert lost == [], "\n".join(f"{t.kind} {t.text!r}: {t.error}" for t in lost)
    assert sum(w["unanswered"] for w in short_run["faults"]) == 0, short_run["faults"]


def test_every_message_sent_is_in_the_transcript_and_answered_there(
    short_run: dict[str, Any], turns: list[Turn]
) -> None:
    sent = [t for t in turns if t.kind != CONNECT]
    by_conversation: dict[str, list[Turn]] = defaultdict(list)
    for turn in sorted(sent, key=lambda t: t.at):
        by_conversation[turn.conversation].append(turn)
    stored = transcripts(short_run, set(by_conversation))

    problems = []
    for conversation, mine in by_conversation.items():
        entries = stored.get(conversation, [])
        users = [i for i, (role, _) in enumerate(entries) if role == "user"]
        position = 0
        for turn in mine:
            if position < len(users) and entries[users[position]][1] == turn.text:
                index = users[position]
                end = users[position + 1] if position + 1 < len(users) else len(entries)
                if turn.error is None and end == index + 1:
                    problems.append(f"{conversation}: {turn.text!r} answered, no reply stored")
                position += 1
            elif not may_be_missing(turn, short_run["faults"]):
                problems.append(f"{conversation}: {turn.text!r} ({turn.error}) not stored")
        extra = [entries[i][1] for i in users[position:]]
        if extra:
            problems.append(f"{conversation}: stored but never recorded as sent: {extra}")

    assert by_conversation and "" not in by_conversation
    assert problems == [], "\n".join(problems)


def test_windows_on_the_killed_gateway_carry_on_through_the_balancer(
    short_run: dict[str, Any], turns: list[Turn]
) -> None:
    # Half the users carry gateway-1's sticky cookie; only its SIGKILL drops sockets.
    reconnected = [t for t in turns if t.reconnected and not t.cut_off]
    window = next(w for w in short_run["faults"] if w["fault"] == "SIGKILL gateway-1")

    assert reconnected, "no window noticed gateway-1's SIGKILL"
    assert all(t.error is None or clear_error(t.error) for t in reconnected), reconnected
    # The windows connected again through the balancer and their conversations went on.
    assert any(t.error is None for t in reconnected), reconnected
    assert window["unanswered"] == 0, window


def test_the_services_are_running_afterwards(short_run: dict[str, Any]) -> None:
    assert services_running() == {"PostgreSQL": True, "Redis": True, "RabbitMQ": True}

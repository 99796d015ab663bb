"""Kill each of the assistant's processes once (SIGKILL) while a dozen customers talk to it
(issue 13): each is restarted, and every message gets a reply or a clear "try again".

What "none lost from the transcript" means here, per message sent (an attempt):

- Answered (200 with text): the gateway's transcript holds the user's message exactly once,
  followed by exactly the replies the client received, and Rasa's tracker holds the message
  as a user event exactly once, in order.
- Told to try again (503, ``{"error": UNAVAILABLE_MESSAGE}``): the gateway's transcript holds
  the message once (it records what the user said before asking Rasa) and no reply after it,
  so the transcript shows what the user was told: nothing. Rasa may or may not have
  processed it (it was killed before saving the turn, or finished after the gateway gave
  up, or an action failed and the gateway took the turn back with a ``rewind``), so the
  tracker holds it at most once. A turn whose action failed is not kept at all
  (bot/rasa_turns.py). The user's resend is a new message with its own entries.
- Not delivered (no HTTP status, only while the gateway itself was dead): at most once in
  either record; the client resends once the gateway is back, and that resend is answered.

Nothing may appear in either record that no client sent, and no message may hang past the
client's timeout, come back empty, or lose its connection while the gateway was alive.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import pytest

from bot.processes import RestartPolicy, Service, ServiceFailed, Supervisor
from tests.e2e.conftest import Assistant, start_assistant
from tests.e2e.load_driver import (
    Attempt,
    Catalogue,
    SimulatedUser,
    Turn,
    conversation,
)

pytestmark = pytest.mark.e2e

USERS = 12
# Seconds of load before the first kill, and between one recovery and the next kill.
WARMUP_S = 4.0
SETTLE_S = 2.0
RECOVERY_TIMEOUT_S = 120.0
# Longer than the gateway's Rasa timeout (30 s), so the gateway always answers first.
CLIENT_TIMEOUT_S = 45.0
# The supervisor's view of a service lags its real state by up to one check.
CLOCK_SLACK_S = 1.0


@dataclass(frozen=True)
class Recovery:
    """One kill: when, when the supervisor saw the service healthy again, when the whole
    stack answered a customer's question again."""

    service: str
    killed_at: float
    back_up_at: float
    answering_at: float


class Watchdog(threading.Thread):
    """The launcher's supervision loop (bot.launcher.run) in a thread, with a quick policy,
    keeping every line it reports with the time."""

    def __init__(self, services: list[Service]) -> None:
        super().__init__(name="watchdog", daemon=True)
        self.lines: list[tuple[float, str]] = []
        self.error: ServiceFailed | None = None
        self._halt = threading.Event()
        policy = RestartPolicy(first_delay=0.5, max_delay=2.0, max_restarts=2, window=600.0)
        self._supervisor = Supervisor(services, policy=policy, report=self._report)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self._supervisor.check()
            except ServiceFailed as error:
                self.error = error
                return
            self._halt.wait(0.5)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def _report(self, line: str) -> None:
        self.lines.append((time.time(), line))

    def wait_for(self, line: str, *, since: float, timeout: float) -> float:
        """When the supervisor reported ``line`` after ``since``; fail the test past timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.error is None:
            for at, reported in list(self.lines):
                if at >= since and reported == line:
                    return at
            time.sleep(0.1)
        pytest.fail(f"no {line!r} within {timeout:g} s: {self.error or self.lines}")

    def count(self, prefix: str) -> int:
        return sum(1 for _, line in self.lines if line.startswith(prefix))


def generator_backend() -> str:
    """llama_cpp when the joined base GGUF and the adapter's GGUF are on disk, else off."""
    from models.base import PACKAGED_MODEL
    from models.generator import LORA_GGUF
    from models.settings import DEFAULT_ADAPTER_DIR, DEFAULT_MODELS_DIR

    base = DEFAULT_MODELS_DIR / PACKAGED_MODEL
    return "llama_cpp" if base.is_file() and (DEFAULT_ADAPTER_DIR / LORA_GGUF).is_file() else "off"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    backend = generator_backend()
    overrides = {"GENERATOR_BACKEND": backend}
    if backend != "off":
        # Leave a core to Rasa and the encoder, as test_crash does.
        overrides["GENERATOR_THREADS"] = "1"
    with start_assistant(tmp_path_factory.mktemp("faults"), overrides) as assistant:
        yield assistant


def test_each_process_killed_under_load_is_restarted_and_no_message_is_lost(
    running: Assistant,
) -> None:
    started = time.monotonic()
    catalogue = Catalogue.from_erp()
    watchdog = Watchdog(running.services)
    watchdog.start()
    stop, gateway_up = threading.Event(), threading.Event()
    gateway_up.set()
    users = [
        SimulatedUser(
            f"fault-user-{i}",
            running.url,
            conversation(catalogue, random.Random(i)),
            stop=stop,
            gateway_up=gateway_up,
            timeout=CLIENT_TIMEOUT_S,
            seed=i,
        )
        for i in range(USERS)
    ]
    # The question asked after each recovery: it needs Rasa, the actions and the ERP.
    probe = SimulatedUser(
        "fault-probe",
        running.url,
        conversation(catalogue, random.Random(-1)),
        stop=stop,
        gateway_up=gateway_up,
        timeout=CLIENT_TIMEOUT_S,
    )
    probe_turn = Turn("probe", f"is {catalogue.skus[0]} in stock?")
    for user in users:
        user.start()
    recoveries: list[Recovery] = []
    try:
        time.sleep(WARMUP_S)
        for service in list(running.services):
            recovery = kill_and_recover(running, service, watchdog, gateway_up)
            recoveries.append(answered_again(running, recovery, probe, probe_turn))
            time.sleep(SETTLE_S)
    finally:
        # First, so that nothing restarts the services once the fixture stops them.
        watchdog.stop()
        stop.set()
        gateway_up.set()
        for user in users:
            user.join(timeout=CLIENT_TIMEOUT_S + 10)
    attempts = [attempt for user in (*users, probe) for attempt in user.attempts]
    gateway_db = Path(running.service("gateway").env["GATEWAY_DB"])
    report(attempts, recoveries, time.monotonic() - started, gateway_db.parent)

    gateway_down = [(r.killed_at, r.back_up_at) for r in recoveries if r.service == "gateway"]
    # Every check runs, so that one run shows every kind of failure at once.
    problems = {
        "supervisor": [str(watchdog.error)] if watchdog.error else [],
        "users never back": [user.sender for user in users if user.is_alive()],
        "neither reply nor try again": unexplained(attempts, gateway_down),
        "never answered after resends": unanswered(attempts),
        "gateway transcript": [
            f"{user.sender}: {problem}"
            for user in (*users, probe)
            for problem in transcript_problems(
                user.attempts, transcript(gateway_db, conversation_id(user.sender))
            )
        ],
        "rasa tracker": [
            f"{user.sender}: {problem}"
            for user in (*users, probe)
            for problem in tracker_problems(
                user.attempts, tracker_events(running, conversation_id(user.sender))
            )
        ],
        # Every service restarted exactly once, and all are up now.
        "restarts": [
            f"{service.name} restarted {restarts} times"
            for service in running.services
            if (restarts := watchdog.count(f"{service.name} restarted (pid")) != 1
        ],
        "down at the end": [
            service.name
            for service in running.services
            if service.exited() is not None or not service.healthy()
        ],
    }
    found = {kind: found for kind, found in problems.items() if found}
    for kind, listed in found.items():
        print(f"{kind}: {len(listed)}", *listed[:15], sep="\n  ")
    assert found == {}
    assert running.client.get("/healthz").status_code == 200


def kill_and_recover(
    assistant: Assistant,
    service: Service,
    watchdog: Watchdog,
    gateway_up: threading.Event,
) -> Recovery:
    """SIGKILL ``service`` and wait for the supervisor to bring it back and /healthz to pass."""
    assert service.process is not None and service.exited() is None, service.name
    if service.name == "gateway":
        gateway_up.clear()
    killed_at = time.time()
    os.kill(service.process.pid, signal.SIGKILL)
    back_up_at = watchdog.wait_for(
        f"{service.name} is back up.", since=killed_at, timeout=RECOVERY_TIMEOUT_S
    )
    gateway_up.set()
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while assistant.client.get("/healthz").status_code != 200:
        assert time.monotonic() < deadline, f"/healthz never recovered after {service.name}"
        time.sleep(0.5)
    return Recovery(service.name, killed_at, back_up_at, answering_at=time.time())


def answered_again(
    assistant: Assistant, recovery: Recovery, probe: SimulatedUser, turn: Turn
) -> Recovery:
    """The recovery, once a customer's question is answered again."""
    with httpx.Client(base_url=assistant.url, timeout=CLIENT_TIMEOUT_S) as client:
        assert probe.deliver(client, turn), describe(probe.attempts[-1])
    return dataclasses.replace(recovery, answering_at=time.time())


def unexplained(attempts: list[Attempt], gateway_down: list[tuple[float, float]]) -> list[str]:
    """Attempts that got neither a reply nor a clear try-again, and were not sent while the
    gateway was dead (a dropped connection counts then, from the kill to the restart)."""

    def gateway_dead(attempt: Attempt) -> bool:
        return any(
            killed - CLOCK_SLACK_S <= attempt.ended <= back + CLOCK_SLACK_S
            for killed, back in gateway_down
        )

    return [
        describe(a)
        for a in attempts
        if a.outcome not in ("reply", "try_again")
        and not (a.outcome == "not_delivered" and gateway_dead(a))
    ]


def unanswered(attempts: list[Attempt]) -> list[str]:
    """Messages given up on: still "try again" or not delivered after every resend."""
    last: dict[tuple[str, int], Attempt] = {}
    chain: dict[str, int] = {}
    for attempt in attempts:
        if not attempt.retry:
            chain[attempt.sender] = chain.get(attempt.sender, 0) + 1
        last[(attempt.sender, chain[attempt.sender])] = attempt
    return [describe(a) for a in last.values() if a.outcome in ("try_again", "not_delivered")]


def conversation_id(sender: str) -> str:
    """The conversation id the gateway gives a loopback REST client's sender id."""
    return f"rest:local:{sender}"


Entry = tuple[str, str | None, float]


def transcript(gateway_db: Path, conversation: str) -> list[Entry]:
    """The gateway's stored history of one conversation: role, text, time, in order."""
    with sqlite3.connect(gateway_db) as db:
        rows = db.execute(
            "SELECT role, body, created_at FROM transcript WHERE conversation_id = ? ORDER BY id",
            (conversation,),
        ).fetchall()
    return [(role, json.loads(body).get("text"), at) for role, body, at in rows]


def transcript_problems(attempts: list[Attempt], entries: list[Entry]) -> list[str]:
    """Where the gateway's transcript disagrees with what the client sent and received.

    A user's messages go one at a time, so each entry was written during exactly one
    attempt: the one whose send-to-answer time holds the entry's timestamp.
    """
    problems = []
    owned: set[int] = set()
    for attempt in attempts:
        inside = [
            i for i, (_, _, at) in enumerate(entries) if attempt.started <= at <= attempt.ended
        ]
        owned.update(inside)
        said = [entries[i][1] for i in inside if entries[i][0] == "user"]
        told = [entries[i][1] for i in inside if entries[i][0] != "user"]
        if attempt.outcome == "reply":
            ok = said == [attempt.turn.text] and told == attempt.texts
        elif attempt.outcome == "try_again":
            ok = said == [attempt.turn.text] and told == []
        else:
            ok = said in ([], [attempt.turn.text])
        if not ok:
            problems.append(f"{describe(attempt)}: transcript has user {said}, bot {told}")
    problems += [
        f"entry no client sent: {entries[i]}" for i in sorted(set(range(len(entries))) - owned)
    ]
    return problems


def tracker_events(assistant: Assistant, conversation: str) -> list[dict]:
    """Every event of the conversation's Rasa tracker, over Rasa's HTTP API."""
    rasa = assistant.service("rasa").health_url.split("/status", 1)[0]
    response = httpx.get(
        f"{rasa}/conversations/{conversation}/tracker",
        params={"token": assistant.secrets["RASA_TOKEN"], "include_events": "ALL"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    events: list[dict] = response.json()["events"]
    return events


def tracker_problems(attempts: list[Attempt], events: list[dict]) -> list[str]:
    """Where Rasa's tracker disagrees with the client's record (see the module docstring).

    Every user event counts, taken back (``rewind``) or not: a rewound one is a message
    that was told to try again.
    """
    said = [event.get("text") for event in events if event["event"] == "user"]
    if embeds(said, attempts):
        return []
    sent = [(a.turn.text, a.outcome) for a in attempts]
    return [f"tracker user events {said} do not fit the messages sent {sent}"]


def embeds(said: list[str | None], attempts: list[Attempt]) -> bool:
    """Whether the tracker's user texts are the texts of some of the attempts, in order,
    each attempt used at most once and every answered attempt used."""

    @cache
    def fits(i: int, j: int) -> bool:
        if i == len(attempts):
            return j == len(said)
        attempt = attempts[i]
        if j < len(said) and said[j] == attempt.turn.text and fits(i + 1, j + 1):
            return True
        return attempt.outcome != "reply" and fits(i + 1, j)

    return fits(0, 0)


def describe(attempt: Attempt) -> str:
    return (
        f"{attempt.sender} {attempt.turn.kind} {attempt.turn.text!r}: {attempt.outcome} "
        f"{attempt.status or ''} after {attempt.ended - attempt.started:.1f} s "
        f"{'(resend) ' if attempt.retry else ''}{attempt.detail}"
    ).strip()


def report(attempts: list[Attempt], recoveries: list[Recovery], seconds: float, work: Path) -> None:
    """Print the run's figures (pytest shows them with -s, and on a failure); keep every
    attempt and recovery in ``work``/faults.json for a closer look."""
    (work / "faults.json").write_text(
        json.dumps(
            {
                "attempts": [dataclasses.asdict(a) for a in attempts],
                "recoveries": [dataclasses.asdict(r) for r in recoveries],
            },
            indent=1,
        )
    )
    count = {
        o: sum(a.outcome == o for a in attempts) for o in sorted({a.outcome for a in attempts})
    }
    resends = [a for a in attempts if a.retry]
    replies = sorted(a.ended - a.started for a in attempts if a.outcome == "reply")
    outside = [
        a
        for a in attempts
        if a.outcome == "try_again"
        and not any(r.killed_at <= a.ended <= r.answering_at for r in recoveries)
    ]
    print(f"\nfault test: {len(attempts)} messages in {seconds:.0f} s, outcomes {count}")
    print(f"  every attempt: {work / 'faults.json'}")
    print(f"  resends: {len(resends)}, answered {sum(a.outcome == 'reply' for a in resends)}")
    print(f"  try again outside any outage: {len(outside)}")
    if replies:
        p95 = replies[min(len(replies) - 1, int(0.95 * len(replies)))]
        print(f"  reply time p50 {statistics.median(replies):.1f} s, p95 {p95:.1f} s")
    for r in recoveries:
        print(
            f"  {r.service}: back up {r.back_up_at - r.killed_at:.1f} s after SIGKILL, "
            f"answering {r.answering_at - r.killed_at:.1f} s"
        )

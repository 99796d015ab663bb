"""GET /healthz: Rasa, the action server and the database are checked together."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from connectors import gateway
from tests.connectors.fakes import FakeRasa, MakeClient


async def test_all_checks_ok_gives_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"rasa": "ok", "actions": "ok", "database": "ok"},
    }


def _rasa_down(fake_rasa: FakeRasa) -> dict:
    fake_rasa.up = False
    return {}


def _db_down(fake_rasa: FakeRasa) -> dict:
    return {"db_check": lambda: False}


def _db_raises(fake_rasa: FakeRasa) -> dict:
    def broken() -> bool:
        raise ConnectionRefusedError("database refused the connection")

    return {"db_check": broken}


@pytest.mark.parametrize(
    ("break_it", "down"),
    [
        (_rasa_down, "rasa"),
        (lambda _: {"actions_status": 500}, "actions"),
        (lambda _: {"actions_status": 0}, "actions"),
        (_db_down, "database"),
        (_db_raises, "database"),
    ],
    ids=["rasa-down", "actions-500", "actions-refused", "database-down", "database-raises"],
)
async def test_one_check_down_gives_503_naming_it(
    make_client: MakeClient,
    fake_rasa: FakeRasa,
    break_it: Callable[[FakeRasa], dict],
    down: str,
) -> None:
    client = await make_client(**break_it(fake_rasa))

    response = await client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == [down]
    assert body["checks"][down] == "down"
    assert [name for name, result in body["checks"].items() if result == "ok"] == [
        name for name in ("rasa", "actions", "database") if name != down
    ]


async def test_everything_down_lists_all_three(
    make_client: MakeClient, fake_rasa: FakeRasa
) -> None:
    fake_rasa.up = False
    client = await make_client(db_check=lambda: False, actions_status=0)

    body = (await client.get("/healthz")).json()

    assert body["down"] == ["rasa", "actions", "database"]


async def test_hung_database_times_out_without_blocking_the_check(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway, "HEALTH_TIMEOUT", 0.2)
    release = threading.Event()
    client = await make_client(db_check=lambda: release.wait(10))

    started = time.monotonic()
    response = await client.get("/healthz")
    elapsed = time.monotonic() - started
    release.set()

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "timeout"
    assert elapsed < 2


async def test_checks_run_concurrently(
    make_client: MakeClient, fake_rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each check records when it ran; run one after the other, neither would start before
    # the other ended (an overlap, not a wall-clock bound, so a busy machine cannot fail it).
    spans: dict[str, tuple[float, float]] = {}

    def slow_db() -> bool:
        started = time.monotonic()
        time.sleep(0.3)
        spans["database"] = (started, time.monotonic())
        return True

    async def slow_rasa() -> bool:
        import anyio

        started = time.monotonic()
        await anyio.sleep(0.3)
        spans["rasa"] = (started, time.monotonic())
        return True

    client = await make_client(db_check=slow_db)
    monkeypatch.setattr(fake_rasa, "healthy", slow_rasa)

    response = await client.get("/healthz")

    assert response.status_code == 200
    assert set(spans) == {"database", "rasa"}
    (db_start, db_end), (rasa_start, rasa_end) = spans["database"], spans["rasa"]
    assert max(db_start, rasa_start) < min(db_end, rasa_end)


def test_importing_the_gateway_does_not_import_erp() -> None:
    code = "import sys, connectors.gateway; print('erp' in sys.modules)"

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"

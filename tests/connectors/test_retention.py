"""What the gateway forgets and when: transcripts older than GATEWAY_TRANSCRIPT_DAYS except a
conversation's with an open handoff, delivered outbox rows older than GATEWAY_OUTBOX_DAYS
(undelivered ones never), old platform event ids and button payloads; 0 keeps for ever; the
pass runs when the gateway starts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.database import Cursor, Transaction
from connectors.gateway import create_app
from connectors.retention import DAY_SECONDS, Retention, prune
from connectors.settings import GatewaySettings
from connectors.store import GatewayStore
from envvars import SettingsError
from tests.connectors.fakes import SETTINGS, FakeRasa, actions_transport

NOW = 1_900_000_000.0


def rows(store: GatewayStore, sql: str) -> list[tuple]:
    return store._query(sql, ())


def fill(store: GatewayStore) -> None:
    """Per kind, a row 100 days old and one 1 day old; an open handoff on web:open."""
    for age, suffix in ((100, "old"), (1, "new")):
        at = NOW - age * DAY_SECONDS
        for conversation in (f"web:{suffix}", "web:open"):
            store._execute(
                "INSERT INTO transcript (conversation_id, role, body, created_at) "
                "VALUES (?, 'user', ?, ?)",
                (conversation, json.dumps({"text": suffix}), at),
            )
        store._execute(
            "INSERT INTO outbox (conversation_id, channel, body, created_at, attempts, "
            "next_attempt_at, delivered_at) VALUES (?, 'web', '{}', ?, 1, ?, ?)",
            (f"web:{suffix}", at, at, at),
        )
        store._execute(
            "INSERT INTO outbox (conversation_id, channel, body, created_at, attempts, "
            "next_attempt_at, delivered_at) VALUES (?, 'web', '{}', ?, 1, ?, NULL)",
            (f"web:pending-{suffix}", at, at),
        )
        store._execute("INSERT INTO processed_events VALUES (?, ?)", (f"Ev-{suffix}", at))
        store._execute("INSERT INTO button_payloads VALUES (?, '/x', ?)", (f"k-{suffix}", at))
    store._execute(
        "INSERT INTO handoffs (conversation_id, channel, queue, status, trigger_rule, "
        "trigger_score, trigger_detail, summary, slots, created_at) VALUES ('web:open', 'web', "
        "'support', 'waiting', 'user_request', 1.0, '', '', '{}', ?)",
        (NOW - 100 * DAY_SECONDS,),
    )


def test_old_rows_go_and_what_is_still_needed_stays(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    fill(store)

    removed = prune(store, Retention(transcript_days=90, outbox_days=7), now=NOW)

    assert removed == {"transcript": 1, "outbox": 1, "processed_events": 1,
                       "button_payloads": 1}  # fmt: skip
    transcript = rows(store, "SELECT conversation_id, body FROM transcript ORDER BY id")
    assert ("web:old", '{"text": "old"}') not in transcript
    assert ("web:open", '{"text": "old"}') in transcript  # an open handoff keeps its history
    outbox = rows(store, "SELECT conversation_id FROM outbox ORDER BY id")
    assert [c for (c,) in outbox] == ["web:pending-old", "web:new", "web:pending-new"]
    assert rows(store, "SELECT event_id FROM processed_events") == [("Ev-new",)]
    assert rows(store, "SELECT key FROM button_payloads") == [("k-new",)]


def test_zero_days_keeps_transcripts_and_outbox_for_ever(gateway_db: str) -> None:
    store = GatewayStore(gateway_db)
    fill(store)

    removed = prune(store, Retention(transcript_days=0, outbox_days=0), now=NOW)

    assert "transcript" not in removed and "outbox" not in removed
    assert len(rows(store, "SELECT id FROM transcript")) == 4
    assert len(rows(store, "SELECT id FROM outbox")) == 4


def test_pruning_deletes_in_batches_until_nothing_old_is_left(
    gateway_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = GatewayStore(gateway_db)
    old = NOW - 100 * DAY_SECONDS
    for number in range(7):
        store._execute(
            "INSERT INTO transcript (conversation_id, role, body, created_at) "
            "VALUES ('web:old', 'user', '{}', ?)",
            (old,),
        )
        store._execute("INSERT INTO processed_events VALUES (?, ?)", (f"Ev-{number}", old))
    store._execute(
        "INSERT INTO transcript (conversation_id, role, body, created_at) "
        "VALUES ('web:new', 'user', '{}', ?)",
        (NOW,),
    )
    deletes: list[tuple[str, int]] = []
    execute = Transaction.execute

    def recording(db: Transaction, sql: str, params: Sequence[Any] = ()) -> Cursor:
        cursor = execute(db, sql, params)
        if sql.startswith("DELETE"):
            deletes.append((sql.split()[2], cursor.rowcount))
        return cursor

    monkeypatch.setattr(Transaction, "execute", recording)

    removed = prune(store, Retention(transcript_days=90, outbox_days=7), now=NOW, batch=3)

    assert removed == {"transcript": 7, "outbox": 0, "processed_events": 7,
                       "button_payloads": 0}  # fmt: skip
    assert [count for table, count in deletes if table == "transcript"] == [3, 3, 1]
    assert [count for table, count in deletes if table == "processed_events"] == [3, 3, 1]
    assert rows(store, "SELECT conversation_id FROM transcript") == [("web:new",)]
    assert rows(store, "SELECT event_id FROM processed_events") == []


def test_pruning_does_not_wait_for_the_gateway_wide_lock(gateway_db: str) -> None:
    if not gateway_db.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: a pruning pass waits for any write")
    store, other = GatewayStore(gateway_db), GatewayStore(gateway_db)
    fill(store)

    # Another replica is in the middle of a write transaction, holding the lock.
    with ThreadPoolExecutor(max_workers=1) as pool, other.transaction():
        running = pool.submit(prune, store, Retention(), now=NOW)
        try:
            removed = running.result(timeout=5)
        except TimeoutError:
            pytest.fail("pruning waited for another replica's transaction")

    assert removed["transcript"] == 1


@pytest.mark.parametrize("value", ["-1", "forever", "40000"])
def test_unusable_retention_settings_name_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="GATEWAY_TRANSCRIPT_DAYS must be"):
        GatewaySettings.from_env({"GATEWAY_TRANSCRIPT_DAYS": value})
    assert GatewaySettings.from_env({"GATEWAY_OUTBOX_DAYS": "0"}).outbox_days == 0


async def test_the_gateway_prunes_when_it_starts(tmp_path: Path) -> None:
    database = tmp_path / "gateway.db"
    store = GatewayStore(database)
    store._execute(
        "INSERT INTO transcript (conversation_id, role, body, created_at) VALUES "
        "('web:ancient', 'user', '{}', 1000.0)",
        (),
    )
    store.close()
    settings = GatewaySettings(**{**SETTINGS.__dict__, "gateway_db": str(database)})
    app = create_app(settings, db_check=lambda: True, rasa_client=FakeRasa(),
                     transport=actions_transport())  # fmt: skip
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gw.test") as client:  # fmt: skip
            assert (await client.get("/healthz")).status_code == 200
        removed = await app.state.retention.run_once()  # the start's pass already ran
        assert removed.get("transcript") == 0

    check = GatewayStore(database)
    assert rows(check, "SELECT id FROM transcript WHERE conversation_id = 'web:ancient'") == []
    check.close()

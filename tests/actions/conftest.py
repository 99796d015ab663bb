"""A small seeded SQLite ERP and tracker builders for testing actions as functions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from demo.seed import seed
from envvars import forget_current
from erp.db import make_engine, reset_engine_cache
from erp.state import PASSWORD_ENV, URL_ENV
from tests.actions_state import actions_state_postgres, close_process_stores, state_backend

__all__ = ["actions_state_postgres", "state_backend"]  # fixtures for the tests here


@pytest.fixture(scope="session")
def erp_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("erp") / "erp.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    seed(engine, scale=0.05, today=date.today(), progress=False)
    engine.dispose()
    return url


@pytest.fixture()
def erp_db(erp_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """Point the actions at the seeded database and give the test a session to read facts."""
    monkeypatch.setenv("ERP_DATABASE_URL", erp_url)
    reset_engine_cache()
    engine = make_engine(erp_url)
    with Session(engine) as session:
        yield session
    engine.dispose()
    reset_engine_cache()


@pytest.fixture()
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


SENDER = "test-user"
SECRET = "s" * 32


@pytest.fixture(autouse=True)
def verification_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A known signing secret and an empty lockout store and audit trail of the test's own
    (SQLite files; ``state_backend`` moves them to PostgreSQL too)."""
    monkeypatch.setenv("VERIFICATION_SECRET", SECRET)
    monkeypatch.setenv("ACTIONS_STATE_DB", str(tmp_path / "actions-state.db"))
    monkeypatch.setenv("AUDIT_DB", str(tmp_path / "audit.db"))
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    forget_current()
    close_process_stores()
    yield
    close_process_stores()
    forget_current()


def verified(
    customer_id: int,
    *factors: str,
    records: tuple[str, ...] = (),
    sender_id: str = SENDER,
    secret: str = SECRET,
    expires_at: float | None = None,
) -> dict[str, str]:
    """The ``verification`` slot of a conversation that proved ``factors`` of a customer."""
    from erp.access import Verification, sign_verification

    proof = Verification(
        sender_id,
        customer_id,
        frozenset(factors or ("email",)),
        frozenset(records),
        time.time() + 3600 if expires_at is None else expires_at,
    )
    return {"verification": sign_verification(proof, secret=secret.encode())}


def proof_in(slots: dict[str, Any], sender_id: str = SENDER, now: float | None = None) -> Any:
    """The Verification a validation's or action's ``verification`` slot proves, or None."""
    from erp.access import read_verification

    return read_verification(
        slots.get("verification"),
        secret=SECRET.encode(),
        conversation_id=sender_id,
        now=time.time() if now is None else now,
    )


def tracker(
    slots: dict[str, Any] | None = None,
    *,
    text: str = "",
    intent: str = "inform",
    active_loop: str | None = None,
    requested_slot: str | None = None,
    sender_id: str = SENDER,
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    """A tracker as the action server receives it, with `slots` set this turn.

    ``metadata`` is what the gateway put on the user's message (channel, role, client, group).
    """
    all_slots: dict[str, Any] = {"verification_attempts": 0, "requested_slot": requested_slot}
    all_slots.update(slots or {})
    user: dict[str, Any] = {
        "event": "user",
        "text": text,
        "parse_data": {"intent": {"name": intent}},
    }
    if metadata is not None:
        user["metadata"] = metadata
    events: list[dict[str, Any]] = [user]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (slots or {}).items()]
    return Tracker(
        sender_id=sender_id,
        slots=all_slots,
        latest_message={"text": text, "intent": {"name": intent}, "entities": []},
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or "" for m in dispatcher.messages)


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The real Rasa domain (bot/domain/*.yml) merged, as the action server receives it."""
    import yaml

    from bot.paths import DOMAIN_DIR

    merged: dict[str, Any] = {"forms": {}, "slots": {}, "responses": {}}
    for file in sorted(DOMAIN_DIR.glob("*.yml")):
        part = yaml.safe_load(file.read_text())
        for key in merged:
            merged[key].update(part.get(key) or {})
    return merged


# The roles SLACK_STAFF_USER_IDS gives: every area but the audit trail.
READ_ROLES = ("finance", "sales", "support", "warehouse")


def as_staff(
    state: Tracker, *, writes: bool = False, roles: tuple[str, ...] = READ_ROLES
) -> Tracker:
    """Mark the tracker's latest message as sent by staff with ``roles``, as the gateway
    does for Slack; ``writes``: staff whose role may also change orders."""
    for event in reversed(state.events):
        if event.get("event") == "user":
            event["metadata"] = {
                "channel": "slack",
                "role": "staff",
                "staff_writes": writes,
                "roles": [*roles, *(["writer"] if writes else [])],
            }
            break
    return state


def _service(generator: Any, erp_budget: float = 5.0) -> Any:
    from actions.answering import AnsweringService, AnsweringSettings
    from retrieval.service import default_retriever

    # Generous waits: a scripted model answers at once, but in a thread of a busy test run.
    settings = AnsweringSettings(erp_budget=erp_budget, doc_wait=5.0, doc_first_sentence=5.0)
    return AnsweringService(
        settings,
        generator=generator,
        retriever=default_retriever,
        product_names=frozenset,
        prompt_tokens=320,
    )


@pytest.fixture(autouse=True)
def generator_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Actions answer without the generator unless a test switches a fake one in."""
    from actions.answering import use_service

    monkeypatch.setenv("GENERATOR_BACKEND", "off")
    use_service(_service(None))
    yield
    use_service(None)


@pytest.fixture()
def model() -> Any:
    """A scripted generator behind the actions' answering service.

    Set ``model.answer`` to what it should say; ``model.prompts`` records what it was asked.
    """
    from actions.answering import use_service
    from tests.models.fakes import ScriptedGenerator

    fake = ScriptedGenerator("")
    use_service(_service(fake))
    return fake


@pytest.fixture(autouse=True)
def product_encoder_fake() -> Iterator[Any]:
    """Out-of-stock answers embed product texts with a bag-of-words fake, not the real model
    (a test installs another with ``actions.alternatives.use_encoder``)."""
    from actions.alternatives import use_encoder
    from tests.erp.encoders import WordEncoder

    encoder = WordEncoder()
    use_encoder(encoder)
    yield encoder
    use_encoder(None)

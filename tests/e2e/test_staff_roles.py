"""Staff roles end to end: each role over Slack and the console's Ask panel, real Rasa and
actions, sees its areas and is told which role sees the others (docs/staff.md)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from benchmarks.fake_platforms import FakePlatforms
from bot import paths
from erp.db import get_engine
from tests.e2e.conftest import SLACK_SIGNING_SECRET, SLACK_STAFF, Assistant

pytestmark = pytest.mark.e2e

PASSWORD = "e2e roles passphrase"
TEAM = "T0001"
TURN_TIMEOUT_S = 60.0
_events = itertools.count(1)

ORDER, FORECAST, AGEING = "order", "forecast", "ageing"
# Who sees what; everyone else is told which role would.
SEES = {
    ORDER: {"sales", "support", "admin"},
    FORECAST: {"warehouse", "admin"},
    AGEING: {"finance", "admin"},
}
ANSWERED = {ORDER: "shipped", FORECAST: "reorder point", AGEING: "Receivables as of"}
REFUSED = {
    ORDER: "for the sales or support role (or admin)",
    FORECAST: "for the warehouse role (or admin)",
    AGEING: "for the finance role (or admin)",
}


def _shipped_order() -> str:
    from erp.models import SalesOrder

    with Session(get_engine()) as db:
        return db.scalars(
            select(SalesOrder.order_number).where(SalesOrder.status == "shipped").limit(1)
        ).one()


def _questions() -> dict[str, str]:
    return {
        ORDER: f"where is order {_shipped_order()}",
        FORECAST: "when will WID-1001 run out",
        AGEING: "show me the receivables ageing",
    }


def _check(role: str, asked: str, reply: str) -> None:
    if role in SEES[asked]:
        assert ANSWERED[asked] in reply and "your roles" not in reply, (role, asked, reply)
    else:
        assert REFUSED[asked] in reply and f"your roles: {role}" in reply, (role, asked, reply)


# --- Slack ------------------------------------------------------------------------------------


def slack_dm(assistant: Assistant, api: FakePlatforms, user: str, text: str) -> str:
    """Send ``text`` as a signed DM event from ``user``; the bot's reply in that DM."""
    channel = f"D{user[1:]}"
    since = len(api.calls)
    ts = f"{time.time():.6f}"
    body = json.dumps({
        "token": "x", "team_id": TEAM, "api_app_id": "A0001", "type": "event_callback",
        "event_id": f"EvROLE{next(_events):06d}{time.time_ns()}", "event_time": int(time.time()),
        "event": {"type": "message", "channel_type": "im", "user": user, "text": text,
                  "ts": ts, "channel": channel, "event_ts": ts},
    }).encode()  # fmt: skip
    at = str(int(time.time()))
    digest = hmac.new(SLACK_SIGNING_SECRET.encode(), f"v0:{at}:".encode() + body, hashlib.sha256)
    response = assistant.client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/json", "X-Slack-Request-Timestamp": at,
                 "X-Slack-Signature": f"v0={digest.hexdigest()}"},
    )  # fmt: skip
    assert response.status_code == 200, response.text

    def posted(calls: list) -> list[str]:
        return [
            str(c.params.get("text") or "")
            for c in calls[since:]
            if c.method in ("chat.postMessage", "chat.update")
            and c.params.get("channel") == channel
        ]

    api.wait_for(lambda calls: bool(posted(calls)), timeout=TURN_TIMEOUT_S)
    time.sleep(0.5)  # a reply may come in more than one message
    return "\n".join(posted(api.calls))


def test_each_slack_role_sees_its_areas_and_is_refused_the_others(
    assistant: Assistant, slack_api: tuple[FakePlatforms, str]
) -> None:
    api, _ = slack_api
    questions = _questions()

    def ask(role: str) -> list[tuple[str, str, str]]:
        # One person's questions in turn (their DM is one conversation); roles in parallel.
        user = SLACK_STAFF[role]
        return [(role, asked, slack_dm(assistant, api, user, text))
                for asked, text in questions.items()]  # fmt: skip

    with ThreadPoolExecutor(max_workers=len(SLACK_STAFF)) as pool:
        results = [row for rows in pool.map(ask, SLACK_STAFF) for row in rows]
    assert len(results) == len(SLACK_STAFF) * len(questions)
    for role, asked, reply in results:
        _check(role, asked, reply)


def test_a_slack_user_without_roles_is_a_customer(
    assistant: Assistant, slack_api: tuple[FakePlatforms, str]
) -> None:
    api, _ = slack_api
    reply = slack_dm(assistant, api, "U0CUSTOM1", "show me the receivables ageing")
    assert "internal information for the company's staff" in reply, reply


# --- the console's Ask panel ------------------------------------------------------------------


def _agent(assistant: Assistant, name: str, *roles: str) -> None:
    env = {**assistant.service("gateway").env, "AGENT_PASSWORD": PASSWORD}
    commands = [["add", name], *(["grant", name, role] for role in roles)]
    for command in commands:
        done = subprocess.run(
            [paths.main_python(), "-m", "connectors", "agents", *command],
            env=env, cwd=paths.ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0 or "already exists" in done.stderr, done.stderr


def test_each_console_role_sees_its_areas_and_is_refused_the_others(
    assistant: Assistant,
) -> None:
    questions = _questions()
    roles = ["sales", "warehouse", "finance", "support", "admin"]
    for role in roles:
        _agent(assistant, f"e2e-{role}", role)

    consoles = {
        role: httpx.Client(base_url=assistant.url, timeout=TURN_TIMEOUT_S) for role in roles
    }
    csrf: dict[str, dict[str, str]] = {}
    for role, console in consoles.items():  # logins one at a time: each is a slow hash
        login = console.post("/agent/api/login",
                             json={"username": f"e2e-{role}", "password": PASSWORD})  # fmt: skip
        assert login.status_code == 200, login.text
        csrf[role] = {"X-CSRF-Token": login.json()["csrf_token"]}

    def ask(role: str) -> list[tuple[str, str, str]]:
        rows = []
        for asked, text in questions.items():
            response = consoles[role].post(
                "/agent/api/ask", json={"text": text}, headers=csrf[role]
            )
            assert response.status_code == 200, response.text
            reply = "\n".join(m["text"] or "" for m in response.json()["messages"])
            rows.append((role, asked, reply))
        return rows

    try:
        with ThreadPoolExecutor(max_workers=len(roles)) as pool:
            results = [row for rows in pool.map(ask, roles) for row in rows]
    finally:
        for console in consoles.values():
            console.close()
    for role, asked, reply in results:
        _check(role, asked, reply)


def test_a_customer_is_told_insights_are_internal(assistant: Assistant) -> None:
    for text in ("show me the receivables ageing", "what does anna@example.com owe us"):
        reply = assistant.texts("roles-customer", text)
        assert "internal information for the company's staff" in reply, (text, reply)

"""The agent console in headless Chromium against the real assistant: a customer in the
widget asks for a person, the handoff appears live in the console of an agent created with
the CLI, the agent claims it and replies, the customer's widget shows the reply, the agent
hands back, and the bot answers the customer's next question.

Two browsers (customer and agent) talk to the session's gateway. Screenshots of failures go
to var/results/agent-console/.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import paths
from erp.db import get_engine
from erp.models import StockLevel
from tests.e2e import browser
from tests.e2e.browser import chromium, wait
from tests.e2e.conftest import Assistant

pytestmark = pytest.mark.e2e

SCREENSHOTS = paths.VAR / "results" / "agent-console"
AGENT = "e2e-agent"
PASSWORD = "e2e agent passphrase"


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebDriver, WebDriver]]:
    """One browser for the customer, one for the agent (separate profiles and cookies)."""
    customer = chromium(tmp_path_factory.mktemp("customer-profile"))
    try:
        agent = chromium(tmp_path_factory.mktemp("agent-profile"))
        try:
            yield customer, agent
        finally:
            agent.quit()
    finally:
        customer.quit()


@contextmanager
def screenshots_on_failure(drivers: dict[str, WebDriver], name: str) -> Iterator[None]:
    with browser.screenshots_on_failure(drivers, SCREENSHOTS, name):
        yield


def add_agent(assistant: Assistant) -> None:
    """Create the agent the way an administrator would: with the CLI, on the gateway's db."""
    env = {**assistant.service("gateway").env, "AGENT_PASSWORD": PASSWORD}
    result = subprocess.run(
        [paths.main_python(), "-m", "connectors", "agents", "add", AGENT, "--name", "Erin Agent"],
        env=env, cwd=paths.ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0 or "already exists" in result.stderr, result.stderr


# --- the customer's widget ---------------------------------------------------------------


def widget_messages(driver: WebDriver) -> list[tuple[str, str]]:
    items = driver.find_elements(By.CSS_SELECTOR, ".erpw-log .erpw-msg:not(.erpw-intro)")
    return [("user" if "erpw-user" in i.get_attribute("class") else "bot", i.text) for i in items]


def bot_texts_after(driver: WebDriver, index: int) -> str:
    return "\n".join(text for role, text in widget_messages(driver)[index:] if role == "bot")


def customer_says(driver: WebDriver, text: str) -> int:
    """Type a message in the widget; return how many messages there were before it."""
    before = len(widget_messages(driver))
    driver.find_element(By.CSS_SELECTOR, ".erpw-input").send_keys(text, Keys.ENTER)
    wait(driver, lambda d: len(widget_messages(d)) > before, f"{text!r} not shown")
    return before


# --- the agent's console -----------------------------------------------------------------


def queue_item(driver: WebDriver, conversation: str) -> Any:
    """The queue entry of the customer's conversation, once the console shows it."""
    for item in driver.find_elements(By.CSS_SELECTOR, "#ac-queue-list li[data-handoff-id]"):
        if item.get_attribute("data-conversation") == conversation:
            return item
    return None


def detail_status(driver: WebDriver) -> str | None:
    return driver.find_element(By.ID, "ac-detail").get_attribute("data-status")


def test_escalated_widget_conversation_is_claimed_answered_and_handed_back_in_the_console(
    assistant: Assistant, browsers: tuple[WebDriver, WebDriver]
) -> None:
    customer, agent = browsers
    add_agent(assistant)
    with Session(get_engine()) as db:
        sku = db.scalars(select(StockLevel.sku).order_by(StockLevel.sku).limit(1)).one()

    with screenshots_on_failure({"customer": customer, "agent": agent}, "handoff"):
        # The agent logs in and the live queue connects.
        agent.get(assistant.url + "/agent")
        wait(agent, lambda d: d.find_element(By.ID, "ac-username").is_displayed(), "no login")
        agent.find_element(By.ID, "ac-username").send_keys(AGENT)
        agent.find_element(By.ID, "ac-password").send_keys(PASSWORD, Keys.ENTER)
        wait(agent, lambda d: d.find_element(By.ID, "ac-app").get_attribute("data-stream")
             == "open", "the console's live queue did not connect")  # fmt: skip
        assert "Erin Agent" in agent.find_element(By.ID, "ac-who").text

        # The customer asks for a person in the widget.
        customer.get(assistant.url + "/")
        wait(customer, lambda d: d.find_element(By.CSS_SELECTOR, ".erpw")
             .get_attribute("data-state") == "ready", "widget did not connect")  # fmt: skip
        customer.find_element(By.CSS_SELECTOR, ".erpw-launcher").click()
        session = customer.find_element(By.CSS_SELECTOR, ".erpw").get_attribute("data-session")
        # The session token's first part is the conversation key.
        conversation = "web:" + str(session).split(".")[0]
        asked = time.perf_counter()
        customer_says(customer, "I want to talk to a human agent please")

        # It appears in the console without a reload, with its trigger.
        item = wait(agent, lambda d: queue_item(d, conversation), "handoff not in the console")
        print(f"trigger to console: {time.perf_counter() - asked:.2f} s (incl. Rasa)")
        assert "user request" in item.text and "web" in item.text
        item.find_element(By.CSS_SELECTOR, ".ac-item-button").click()
        wait(agent, lambda d: detail_status(d) == "waiting", "detail not shown")
        transcript = agent.find_element(By.ID, "ac-transcript").text
        assert "I want to talk to a human agent please" in transcript
        assert agent.find_element(By.ID, "ac-trigger").text.startswith("user request")

        # The agent claims it and replies; the customer's widget shows the reply.
        agent.find_element(By.ID, "ac-claim").click()
        wait(agent, lambda d: detail_status(d) == "assigned", "claim did not go through")
        before = len(widget_messages(customer))
        reply = "Hi, this is Erin from customer service. How can I help?"
        agent.find_element(By.ID, "ac-reply").send_keys(reply, Keys.ENTER)
        wait(customer, lambda d: reply in bot_texts_after(d, before), "reply not in the widget")
        wait(agent, lambda d: reply in d.find_element(By.ID, "ac-transcript").text,
             "reply not in the console's transcript")  # fmt: skip

        # The customer answers the person, not the bot; the agent sees it live.
        customer_says(customer, "my delivery is late, can you check")
        wait(agent, lambda d: "my delivery is late" in d.find_element(By.ID, "ac-transcript").text,
             "the customer's message did not reach the console")  # fmt: skip

        # The agent hands back with a note.
        agent.find_element(By.ID, "ac-resolve").click()
        agent.find_element(By.ID, "ac-note").send_keys("checked the delivery with the carrier")
        before = len(widget_messages(customer))
        agent.find_element(By.ID, "ac-resolve-confirm").click()
        wait(agent, lambda d: detail_status(d) == "resolved", "hand back did not go through")
        wait(customer, lambda d: "assistant" in bot_texts_after(d, before),
             "the customer was not told about the hand back")  # fmt: skip
        wait(agent, lambda d: queue_item(d, conversation) is None, "still in the queue")

        # The bot answers the customer's next question.
        before = customer_says(customer, f"is {sku} in stock?")
        wait(customer, lambda d: sku in bot_texts_after(d, before + 1), "the bot did not answer")


# --- the Ask panel: staff change orders for customers (issue 15) --------------------------


def run_cli(assistant: Assistant, *args: str) -> subprocess.CompletedProcess[str]:
    """A management command with the gateway's environment (its databases)."""
    return subprocess.run(
        [paths.main_python(), "-m", *args], env=assistant.service("gateway").env,
        cwd=paths.ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def logged_in(driver: WebDriver, assistant: Assistant) -> None:
    """The console open in ``driver`` with the agent logged in (again, if it was not)."""
    driver.get(assistant.url + "/agent")
    wait(driver, lambda d: d.find_element(By.ID, "ac-username").is_displayed()
         or d.find_element(By.ID, "ac-app").is_displayed(), "no console")  # fmt: skip
    if driver.find_element(By.ID, "ac-username").is_displayed():
        driver.find_element(By.ID, "ac-username").send_keys(AGENT)
        driver.find_element(By.ID, "ac-password").send_keys(PASSWORD, Keys.ENTER)
    wait(driver, lambda d: d.find_element(By.ID, "ac-ask").is_displayed(), "no Ask panel")


def ask_log(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "ac-ask-log").text)


def test_a_writer_cancels_a_customers_order_from_the_ask_panel(
    assistant: Assistant, browsers: tuple[WebDriver, WebDriver]
) -> None:
    from erp.models import SalesOrder

    _, agent = browsers
    add_agent(assistant)
    for role in ("writer", "sales"):  # changes orders, and reads them (docs/staff.md)
        granted = run_cli(assistant, "connectors", "agents", "grant", AGENT, role)
        assert granted.returncode == 0, granted.stderr
    with Session(get_engine()) as db:
        order = db.scalars(
            select(SalesOrder).where(SalesOrder.status == "confirmed")
            .order_by(SalesOrder.order_number.desc()).limit(1)
        ).one()  # fmt: skip
        number, customer_id = order.order_number, order.customer_id

    with screenshots_on_failure({"agent": agent}, "ask"):
        logged_in(agent, assistant)
        wait(agent, lambda d: "you may change orders" in d.find_element(By.ID, "ac-ask-rights")
             .text, "the panel does not say the agent may change orders")  # fmt: skip
        agent.find_element(By.ID, "ac-ask-text").send_keys(f"cancel order {number}", Keys.ENTER)
        # Staff are not asked to verify: the summary and its buttons come at once.
        wait(agent, lambda d: f"cancel order {number}" in ask_log(d)
             and d.find_elements(By.CSS_SELECTOR, "#ac-ask-log button.ac-chip"),
             "no confirmation with buttons")  # fmt: skip
        [yes] = [b for b in agent.find_elements(By.CSS_SELECTOR, "#ac-ask-log button.ac-chip")
                 if b.text.startswith("Yes")]  # fmt: skip
        yes.click()
        wait(agent, lambda d: f"order {number} is cancelled" in ask_log(d), "not cancelled")

    with Session(get_engine()) as db:
        assert db.get(SalesOrder, number).status == "cancelled"
    audit = run_cli(assistant, "erp", "audit", "--conversation", f"console:{AGENT}")
    assert audit.returncode == 0, audit.stderr
    [write] = [line for line in audit.stdout.splitlines() if "cancel_order" in line]
    assert f"staff:console:{AGENT}" in write and f"customer={customer_id}" in write, write
    assert "done" in write and number in write


def test_an_agent_without_the_writer_role_looks_up_but_changes_nothing(
    assistant: Assistant,
) -> None:
    import httpx

    from erp.models import SalesOrder

    env = {**assistant.service("gateway").env, "AGENT_PASSWORD": PASSWORD}
    added = subprocess.run(
        [paths.main_python(), "-m", "connectors", "agents", "add", "e2e-looker"],
        env=env, cwd=paths.ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert added.returncode == 0 or "already exists" in added.stderr, added.stderr
    granted = run_cli(assistant, "connectors", "agents", "grant", "e2e-looker", "support")
    assert granted.returncode == 0, granted.stderr
    with Session(get_engine()) as db:
        order = db.scalars(
            select(SalesOrder).where(SalesOrder.status == "pending")
            .order_by(SalesOrder.order_number.desc()).limit(1)
        ).one()  # fmt: skip
        number = order.order_number

    with httpx.Client(base_url=assistant.url, timeout=60) as console:
        login = console.post("/agent/api/login",
                             json={"username": "e2e-looker", "password": PASSWORD})  # fmt: skip
        assert login.status_code == 200, login.text
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}

        def ask(text: str) -> str:
            response = console.post("/agent/api/ask", json={"text": text}, headers=csrf)
            assert response.status_code == 200, response.text
            return "\n".join(m["text"] or "" for m in response.json()["messages"])

        looked_up = ask(f"where is order {number}")
        assert number in looked_up and "postcode" not in looked_up, looked_up  # not verified
        refused = ask(f"cancel order {number}")
        assert "may look orders up but not cancel them" in refused, refused

    with Session(get_engine()) as db:
        assert db.get(SalesOrder, number).status == "pending"

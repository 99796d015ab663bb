"""The web chat widget in headless Chromium against the real assistant: the gateway's own
widget on the demo page, and the stock rasa-webchat 1.0.1 client from npm.

A second gateway process (its own GATEWAY_DB) talks to the session's Rasa, so these tests can
restart it. Screenshots of failures go to var/results/widget/.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import socketio
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route

from benchmarks.fake_platforms import serve
from bot import paths
from bot.processes import Service, wait_until_healthy
from bot.settings import free_port
from erp.models import Customer, SalesOrder, Shipment, StockLevel
from tests.e2e.browser import chromium, screenshots_on_failure, wait
from tests.e2e.conftest import Assistant

pytestmark = pytest.mark.e2e

WEBCHAT_JS = paths.VAR / "npm/webchat/node_modules/rasa-webchat/lib/index.js"
SCREENSHOTS = paths.VAR / "results" / "widget"


@dataclass
class Gateway:
    service: Service

    @property
    def url(self) -> str:
        return self.service.health_url.removesuffix("/healthz")

    def restart(self) -> None:
        self.service.stop()
        self.service.start()
        wait_until_healthy([self.service], timeout=60)


@pytest.fixture(scope="module")
def gateway(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    work = tmp_path_factory.mktemp("widget-gateway")
    port = free_port()
    env = {**assistant.service("gateway").env, "PORT": str(port),
           "GATEWAY_DB": str(work / "gateway.db")}  # fmt: skip
    service = Service(
        name="widget-gateway",
        command=[paths.main_python(), "-m", "connectors"],
        health_url=f"http://127.0.0.1:{port}/healthz",
        env=env,
        log_file=work / "gateway.log",
    )
    service.start()
    try:
        wait_until_healthy([service], timeout=60)
        yield Gateway(service)
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def screenshot_on_failure(driver: WebDriver, name: str) -> Iterator[None]:
    with screenshots_on_failure({"page": driver}, SCREENSHOTS, name):
        yield


# --- the gateway's own widget ----------------------------------------------------------


def messages(driver: WebDriver) -> list[tuple[str, str]]:
    """(role, text) of every message in the widget, the greeting left out."""
    items = driver.find_elements(
        By.CSS_SELECTOR, ".erpw-log .erpw-msg:not(.erpw-intro):not(.erpw-draft)"
    )
    return [("user" if "erpw-user" in i.get_attribute("class") else "bot", i.text) for i in items]


def ready(driver: WebDriver) -> None:
    wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".erpw").get_attribute("data-state")
         == "ready", "widget did not connect")  # fmt: skip


def session_token(driver: WebDriver) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, ".erpw").get_attribute("data-session"))


def replayed_history(url: str, token: str) -> list[dict]:
    """What a client presenting ``token`` gets to see, as an attacker with a copy would."""
    client = socketio.SimpleClient()
    client.connect(url, transports=["websocket"])
    try:
        client.emit("session_request", {"session_id": token})
        while True:
            event, data = client.receive(timeout=10)
            if event == "session_history":
                return list(data["messages"])
    finally:
        client.disconnect()


def ask(driver: WebDriver, text: str) -> str:
    """Type a message, wait for the bot's answer to it, return the answer's text."""
    before = len(messages(driver))
    box = driver.find_element(By.CSS_SELECTOR, ".erpw-input")
    box.send_keys(text, Keys.ENTER)
    wait(driver, lambda d: len(messages(d)) > before + 1 and
         d.find_element(By.CSS_SELECTOR, ".erpw-typing").get_attribute("hidden") is not None,
         f"no answer to {text!r}")  # fmt: skip
    return "\n".join(t for role, t in messages(driver)[before + 1 :] if role == "bot")


def test_widget_answers_an_order_question_and_keeps_history_across_reload_and_restart(
    browser: WebDriver, gateway: Gateway, db: Session
) -> None:
    order = db.scalars(
        select(SalesOrder).where(SalesOrder.status == "shipped").order_by(SalesOrder.order_number)
        .offset(2).limit(1)
    ).one()  # fmt: skip
    customer = db.get(Customer, order.customer_id)
    shipment = db.scalars(select(Shipment).where(Shipment.order_number == order.order_number)).one()
    assert customer is not None

    with screenshot_on_failure(browser, "order-question-history"):
        browser.get(gateway.url + "/")
        assert "Northbridge Supply" in browser.title
        ready(browser)
        browser.find_element(By.CSS_SELECTOR, ".erpw-launcher").click()
        assert browser.find_element(By.CSS_SELECTOR, ".erpw-panel").is_displayed()

        first = ask(browser, f"where is my order {order.order_number}")
        assert "email address or the postcode" in first
        unverified = session_token(browser)
        answer = ask(browser, customer.email)
        assert order.order_number in answer and shipment.tracking_number in answer
        before = messages(browser)
        # The verification rotated the session token: same conversation, newer generation.
        wait(browser, lambda d: session_token(d) != unverified, "the token was not rotated")
        rotated = session_token(browser)
        assert rotated.split(".")[0] == unverified.split(".")[0]
        # A copy of the token from before the verification opens an empty conversation.
        assert replayed_history(gateway.url, unverified) == []

        browser.refresh()
        ready(browser)
        assert browser.find_element(By.CSS_SELECTOR, ".erpw-panel").is_displayed()
        assert messages(browser) == before

        gateway.restart()
        browser.refresh()
        ready(browser)
        assert messages(browser) == before


def test_widget_buttons_send_their_payload_and_show_their_title(
    browser: WebDriver, gateway: Gateway
) -> None:
    with screenshot_on_failure(browser, "buttons"):
        browser.get(gateway.url + "/")
        ready(browser)
        if not browser.find_element(By.CSS_SELECTOR, ".erpw-panel").is_displayed():
            browser.find_element(By.CSS_SELECTOR, ".erpw-launcher").click()

        ask(browser, "help")
        buttons = wait(browser, lambda d: d.find_elements(
            By.CSS_SELECTOR, ".erpw-log .erpw-msg:last-child .erpw-buttons button:enabled"),
            "the help answer has no buttons")  # fmt: skip
        title = buttons[0].text
        before = len(messages(browser))
        buttons[0].click()
        wait(browser, lambda d: len(messages(d)) > before + 1, "no answer to the button")

        assert messages(browser)[before] == ("user", title)
        assert all(
            not b.is_enabled()
            for b in browser.find_elements(By.CSS_SELECTOR, ".erpw-buttons button")[:1]
        )


def test_widget_shows_an_answer_draft_until_the_answer_arrives(
    browser: WebDriver, gateway: Gateway
) -> None:
    token = gateway.service.env["GATEWAY_INTERNAL_TOKEN"]
    with screenshot_on_failure(browser, "draft"):
        browser.get(gateway.url + "/")
        ready(browser)
        if not browser.find_element(By.CSS_SELECTOR, ".erpw-panel").is_displayed():
            browser.find_element(By.CSS_SELECTOR, ".erpw-launcher").click()
        session = browser.find_element(By.CSS_SELECTOR, ".erpw").get_attribute("data-session")
        # The session token's first part is the conversation key.
        conversation = "web:" + str(session).split(".")[0]
        draft = "We refund returns within 5 working days."
        response = httpx.post(
            gateway.url + "/internal/stream",
            json={"conversation_id": conversation, "text": draft},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 204
        shown = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".erpw-draft"),
                     "the draft was not shown")  # fmt: skip
        assert shown[0].text == draft
        ask(browser, "help")
        assert browser.find_elements(By.CSS_SELECTOR, ".erpw-draft") == []


# --- the stock rasa-webchat client ------------------------------------------------------

WEBCHAT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>rasa-webchat against the gateway</title></head>
<body><div id="webchat"></div>
<script src="/rasa-webchat.js"></script>
<script>
  WebChat.default({
    socketUrl: "%(gateway)s",
    socketPath: "/socket.io/",
    customData: {language: "en"},
    initPayload: "/greet",
    title: "Northbridge Supply",
    params: {storage: "local"}
  }, null);
</script></body></html>"""


# A company's Chinese page embedding the gateway's own widget in Chinese.
CHINESE_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>诺斯桥供应</title></head>
<body><div id="erp-assistant"></div>
<script src="%(gateway)s/static/widget.js" data-lang="zh"></script></body></html>"""


@pytest.fixture(scope="module")
def webchat_site(gateway: Gateway) -> Iterator[str]:
    """A page on another origin that loads rasa-webchat 1.0.1 from npm, unchanged (and at
    /zh a page with the gateway's widget in Chinese)."""
    if not WEBCHAT_JS.exists():
        pytest.fail(f"{WEBCHAT_JS} missing: `make webchat` installs rasa-webchat from npm")
    page = WEBCHAT_PAGE % {"gateway": gateway.url}

    async def index(request):  # type: ignore[no-untyped-def]
        return HTMLResponse(page)

    async def chinese(request):  # type: ignore[no-untyped-def]
        return HTMLResponse(CHINESE_PAGE % {"gateway": gateway.url})

    async def script(request):  # type: ignore[no-untyped-def]
        return FileResponse(WEBCHAT_JS, media_type="text/javascript")

    app = Starlette(
        routes=[Route("/", index), Route("/zh", chinese), Route("/rasa-webchat.js", script)]
    )
    with serve(app) as url:
        # Only the gateway's own origin may open the chat unless WIDGET_ORIGINS lists others.
        gateway.service.env["WIDGET_ORIGINS"] = url
        gateway.restart()
        yield url


def test_stock_rasa_webchat_client_works_against_the_gateway(
    browser: WebDriver, webchat_site: str, db: Session
) -> None:
    sku = db.scalars(select(StockLevel.sku).order_by(StockLevel.sku).limit(1)).one()

    def responses(driver: WebDriver) -> list[str]:
        # Read in one script: rasa-webchat re-renders its list, so element handles go stale.
        texts = driver.execute_script(
            "return Array.from(document.querySelectorAll('.rw-response'), e => e.innerText);"
        )
        return [str(t) for t in texts or []]

    with screenshot_on_failure(browser, "rasa-webchat"):
        browser.get(webchat_site + "/")
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".rw-launcher"), "no launcher")
        browser.find_element(By.CSS_SELECTOR, ".rw-launcher").click()
        # initPayload /greet went through session_request and user_uttered.
        wait(browser, lambda d: any("order" in r for r in responses(d)), "no greeting")

        before = len(responses(browser))
        box = browser.find_element(By.CSS_SELECTOR, ".rw-new-message")
        box.send_keys(f"is {sku} in stock?", Keys.ENTER)
        wait(browser, lambda d: any(sku in r for r in responses(d)[before:]), "no stock answer")

        before = len(responses(browser))
        box.send_keys("help", Keys.ENTER)
        reply = wait(
            browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".rw-reply"), "no quick replies"
        )
        reply[0].click()
        wait(browser, lambda d: len(responses(d)) > before + 1, "no answer to the quick reply")


def test_the_widget_speaks_chinese_on_a_chinese_page(
    browser: WebDriver, webchat_site: str, db: Session
) -> None:
    sku = db.scalars(select(StockLevel.sku).order_by(StockLevel.sku).offset(1).limit(1)).one()
    with screenshot_on_failure(browser, "chinese"):
        browser.get(webchat_site + "/zh")
        ready(browser)
        if not browser.find_element(By.CSS_SELECTOR, ".erpw-panel").is_displayed():
            browser.find_element(By.CSS_SELECTOR, ".erpw-launcher").click()
        box = browser.find_element(By.CSS_SELECTOR, ".erpw-input")
        assert box.get_attribute("placeholder") == "请输入您的问题…"
        assert browser.find_element(By.CSS_SELECTOR, ".erpw-send").text == "发送"
        reply = ask(browser, f"{sku}有货吗？")
        assert sku in reply and ("有货" in reply or "缺货" in reply), reply
        # A message of only an order number: the widget's language hint keeps it Chinese.
        assert "订单" in ask(browser, "SO-100123")

"""``python -m benchmarks.channels``: what the gateway adds to a turn on each channel, and the
web widget's page weight and time to interactive in headless Chromium (docs/benchmarks.md).

Starts Rasa, actions and a gateway (Telegram and Slack enabled against a local fake of their
APIs) on free ports; runs TURNS turns per channel, each paired with the same message sent to
Rasa's REST webhook directly, so both see the same load; writes var/results/bench-channels.json.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import socketio

from benchmarks.fake_platforms import FakePlatforms, serve
from bot import paths
from bot.processes import build_services, stop_all, wait_until_healthy
from bot.settings import Ports
from connectors.rasa_client import WEBHOOK_PATH

RESULTS = paths.VAR / "results"
TEXT = "hello"
SECRET = "bench-secret"
SIGNING = "bench-signing-secret"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage",
)  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(direct: list[float], channel: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in channel]
    base = [v * 1000 for v in direct]
    return {
        "direct_p50_ms": round(percentile(base, 50), 1),
        "direct_p95_ms": round(percentile(base, 95), 1),
        "gateway_p50_ms": round(percentile(ms, 50), 1),
        "gateway_p95_ms": round(percentile(ms, 95), 1),
        "overhead_p50_ms": round(percentile(ms, 50) - percentile(base, 50), 1),
        "overhead_p95_ms": round(percentile(ms, 95) - percentile(base, 95), 1),
        "paired_overhead_median_ms": round(
            statistics.median(c - d for c, d in zip(ms, base, strict=True)), 1
        ),
    }


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


class Runner:
    """One turn on each channel, and the same turn sent straight to Rasa."""

    def __init__(self, ports: Ports, fake: FakePlatforms, *, rasa_token: str) -> None:
        self.http = httpx.Client(timeout=60)
        self.ports = ports
        self.rasa_token = rasa_token
        self.gw = ports.gateway_url
        self.fake = fake
        self.update_id = 0
        self.web = socketio.SimpleClient()

    def direct(self, sender: str) -> None:
        response = self.http.post(
            self.ports.rasa_url + WEBHOOK_PATH,
            json={"sender": sender, "message": TEXT},
            headers={"Authorization": f"Bearer {self.rasa_token}"},
        )
        assert response.status_code == 200 and response.json(), response.text

    def rest(self) -> None:
        response = self.http.post(
            self.gw + "/api/messages", json={"sender_id": "bench-rest", "text": TEXT}
        )
        assert response.status_code == 200 and response.json()["messages"], response.text

    def web_start(self) -> None:
        self.web.connect(self.gw, transports=["websocket"])
        self.web.emit("session_request", {"session_id": "bench0web0session0000000000000000"})
        while self.web.receive(timeout=10)[0] != "session_history":
            pass

    def web_turn(self) -> None:
        self.web.emit("user_uttered", {"message": TEXT})
        replies = 0
        while True:
            event, data = self.web.receive(timeout=60)
            replies += event == "bot_uttered"
            if event == "bot_typing" and not data["typing"]:
                assert replies, "no reply"
                return

    def telegram(self) -> None:
        self.update_id += 1
        update = {"update_id": self.update_id, "message": {
            "message_id": self.update_id, "date": int(time.time()), "text": TEXT,
            "chat": {"id": 4242, "type": "private", "first_name": "Bench"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Bench"}}}  # fmt: skip
        before = len(self.fake.of("sendMessage"))
        response = self.http.post(
            self.gw + "/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status_code == 200, response.text
        assert len(self.fake.of("sendMessage")) > before, "no sendMessage"

    def slack(self, index: int) -> None:
        payload = {"type": "event_callback", "team_id": "TBENCH", "event_id": f"EvBench{index}",
                   "event": {"type": "app_mention", "user": "UBENCH", "channel": "CBENCH",
                             "text": f"<@UBOT> {TEXT}", "ts": f"{index}.000100"}}  # fmt: skip
        body = json.dumps(payload).encode()
        stamp = str(int(time.time()))
        signature = hmac.new(SIGNING.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
        before = len(self.fake.of("chat.postMessage"))
        response = self.http.post(
            self.gw + "/slack/events",
            content=body,
            headers={"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
                     "X-Slack-Signature": "v0=" + signature.hexdigest()},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        self.fake.wait_for(lambda calls: len(self.fake.of("chat.postMessage")) > before, timeout=60)


def measure_turns(runner: Runner, turns: int) -> dict[str, dict[str, float]]:
    runner.web_start()
    channels: dict[str, Callable[[int], None]] = {
        "REST API": lambda i: runner.rest(),
        "Web chat (Socket.IO)": lambda i: runner.web_turn(),
        "Telegram webhook": lambda i: runner.telegram(),
        "Slack Events API": runner.slack,
    }
    results = {}
    for name, turn in channels.items():
        for i in range(5):  # warm up both paths
            runner.direct(f"bench-direct-{name}")
            turn(-1 - i)
        direct, via = [], []
        for i in range(turns):
            direct.append(timed(functools.partial(runner.direct, f"bench-direct-{name}")))
            via.append(timed(functools.partial(turn, i)))
        results[name] = summary(direct, via)
        print(name, results[name], flush=True)
    runner.web.disconnect()
    return results


SIZES_JS = """
const entries = performance.getEntriesByType("navigation")
  .concat(performance.getEntriesByType("resource"));
return entries.map((e) => [e.name, e.transferSize, e.decodedBodySize]);
"""


def measure_widget(url: str, loads: int = 10) -> dict[str, Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as profile:
        for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}",):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=DriverService("/usr/bin/chromedriver"))
        try:
            driver.execute_cdp_cmd("Network.enable", {})
            driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
            tti, weights = [], []
            for _ in range(loads):
                driver.get(url + "/")
                deadline = time.monotonic() + 30
                ready = None
                while ready is None and time.monotonic() < deadline:
                    ready = driver.execute_script(
                        "const m = performance.getEntriesByName('erp-widget-ready');"
                        "return m.length ? m[0].startTime : null;"
                    )
                    time.sleep(0.02)
                assert ready is not None, "widget never became ready"
                tti.append(float(ready))
                weights.append(driver.execute_script(SIZES_JS))
        finally:
            driver.quit()
    entries = weights[-1]
    static = [e for e in entries if "/static/" in e[0] or e[0].rstrip("/") == url]
    widget = [e for e in entries if "/static/widget." in e[0]]
    return {
        "loads": loads,
        "tti_median_ms": round(statistics.median(tti), 1),
        "tti_p95_ms": round(percentile(tti, 95), 1),
        "page_bytes_transferred": sum(int(e[1]) for e in static),
        "page_bytes_decoded": sum(int(e[2]) for e in static),
        "widget_bytes_decoded": sum(int(e[2]) for e in widget),
        "files": {e[0].removeprefix(url): int(e[2]) for e in static},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    fake = FakePlatforms()
    with serve(fake.app) as fake_url, tempfile.TemporaryDirectory() as work:
        os.environ.update(
            RASA_TRACKER_DB=str(Path(work) / "tracker.db"),
            GATEWAY_DB=str(Path(work) / "gateway.db"),
            RATE_LIMIT_PER_MINUTE="1000000", RATE_LIMIT_BURST="1000000",
            TELEGRAM_BOT_TOKEN="1:BENCH", TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_API_URL=fake_url, SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=SIGNING, SLACK_API_URL=fake_url + "/slack-api/",
        )  # fmt: skip
        ports = Ports.free()
        services = build_services(ports, logs_dir=Path(work) / "logs")
        try:
            for service in services:
                service.start()
            wait_until_healthy(services, timeout=300)
            fake.wait_for(lambda calls: any(c.method == "getMe" for c in calls), timeout=30)
            time.sleep(1)
            turns = measure_turns(
                Runner(ports, fake, rasa_token=services[0].env["RASA_TOKEN"]), args.turns
            )
            widget = measure_widget(ports.gateway_url)
        finally:
            stop_all(services)
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "turns_per_channel": args.turns,
        "text": TEXT,
        "channels": turns,
        "widget": widget,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench-channels.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

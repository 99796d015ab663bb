"""``python -m benchmarks.agents``: time from a handoff trigger to the agent console.

Serves a gateway (its own temporary database) with uvicorn, logs an agent in over HTTP and
opens the console's live stream (GET /agent/api/events, the same Server-Sent Events the page
uses). Each run sends a customer message that triggers a handoff (by default the "Talk to a
person" payload, a rule the gateway checks before Rasa) on POST /api/messages and stops the
clock when the stream delivers the ``created`` event of that conversation. With
``--rasa-url`` pointing at a running Rasa and ``--text`` a natural phrasing, the figure also
includes Rasa's turn. Prints p50/p95/max and writes var/results/bench-handoff-console.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import platform
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.fake_platforms import serve
from connectors.agents.auth import AgentAuth
from connectors.agents.settings import AgentSettings
from connectors.gateway import create_app
from connectors.settings import GatewaySettings
from connectors.store import GatewayStore

RESULTS = Path("var/results/bench-handoff-console.json")
DEFAULT_TEXT = "/request_human"
EVENT_TIMEOUT = 60.0


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def _events(stream: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a Server-Sent Events response; comments are skipped."""
    name, data = "", ""
    async for line in stream.aiter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and name:
            yield name, json.loads(data)
            name, data = "", ""


async def measure(
    url: str, *, username: str, password: str, runs: int, text: str, warmup: int = 1
) -> dict[str, Any]:
    """Run the trigger-to-console measurement against a gateway at ``url``.

    Returns:
        Per-run seconds (``trigger_to_console_s``: message sent → event read by the console
        client; ``created_to_console_s``: the handoff's created_at → event read) and a
        summary in milliseconds.
    """
    trigger_to_console: list[float] = []
    created_to_console: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=EVENT_TIMEOUT) as http:
        login = await http.post(
            "/agent/api/login", json={"username": username, "password": password}
        )
        login.raise_for_status()
        async with http.stream("GET", "/agent/api/events") as stream:
            events = _events(stream)
            name, _ = await anext(events)
            if name != "snapshot":
                raise RuntimeError(f"the console stream began with {name!r}, not a snapshot")
            run_id = secrets.token_hex(4)
            for index in range(-warmup, runs):
                sender = f"bench-handoff-{run_id}-{index}"
                started = time.perf_counter()
                posted = asyncio.create_task(
                    http.post("/api/messages", json={"sender_id": sender, "text": text})
                )
                async with asyncio.timeout(EVENT_TIMEOUT):
                    async for name, data in events:
                        handoff = data.get("handoff") or {}
                        if (name, data.get("type"), handoff.get("conversation_id")) == (
                            "queue", "created", sender,
                        ):  # fmt: skip
                            break
                if index >= 0:  # warm-up runs load the gateway's models and are not counted
                    trigger_to_console.append(time.perf_counter() - started)
                    created_to_console.append(time.time() - float(handoff["created_at"]))
                response = await posted
                if response.status_code != 200:
                    raise RuntimeError(f"POST /api/messages answered {response.status_code}: "
                                       f"{response.text}")  # fmt: skip
    return {
        "runs": runs,
        "warmup_runs": warmup,
        "text": text,
        "trigger_to_console_s": trigger_to_console,
        "created_to_console_s": created_to_console,
        "summary_ms": {
            key: {
                "p50": round(statistics.median(values) * 1000, 1),
                "p95": round(percentile(values, 95) * 1000, 1),
                "max": round(max(values) * 1000, 1),
            }
            for key, values in (
                ("trigger_to_console", trigger_to_console),
                ("created_to_console", created_to_console),
            )
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Serve a gateway, measure, print the figures and write them to var/results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agents", description=__doc__)
    parser.add_argument("--runs", type=int, default=20, help="handoffs to time (default 20)")
    parser.add_argument("--text", default=DEFAULT_TEXT, help="the customer's message")
    parser.add_argument(
        "--rasa-url",
        default="http://127.0.0.1:9",
        help="a running Rasa for phrasings Rasa must recognise (default: none; the default "
        "text is a rule the gateway applies before Rasa)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    # Without a Rasa the queue logs that it cannot read slots, once per run: expected here.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory(prefix="bench-handoff-") as work:
        settings = dataclasses.replace(
            GatewaySettings.from_env({}),
            gateway_db=str(Path(work) / "gateway.db"),
            rasa_url=args.rasa_url.rstrip("/"),
            rate_limit_per_minute=10_000,
            rate_limit_burst=10_000,
        )
        password = secrets.token_urlsafe(16)
        store = GatewayStore(settings.gateway_db)
        AgentAuth(store, AgentSettings()).add_agent("bench", password, "Bench Agent")
        store.close()
        app = create_app(settings, db_check=lambda: True)
        with serve(app, lifespan=True) as url:
            result = asyncio.run(
                measure(url, username="bench", password=password, runs=args.runs, text=args.text)
            )

    result["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count() or 0}
    result["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    summary = result["summary_ms"]
    print(f"handoff trigger -> agent console (live stream), {args.runs} runs, text {args.text!r}")
    for key, label in (("trigger_to_console", "message sent -> console has it"),
                       ("created_to_console", "handoff stored -> console has it")):  # fmt: skip
        figures = summary[key]
        print(f"  {label:<34} p50 {figures['p50']:>7.1f} ms   p95 {figures['p95']:>7.1f} ms"
              f"   max {figures['max']:>7.1f} ms")  # fmt: skip
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

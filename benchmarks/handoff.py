"""``make bench-handoff``: how fast a trigger reaches the queue, and what a restart loses.

1. Trigger to queue: one gateway (file database, Rasa replaced by a stand-in that answers
   at once, so only the gateway's own work is timed) takes N messages that escalate, for
   each trigger kind (the "Talk to a person" button, a sensitive topic, a frustrated message
   scored by the model, and Rasa's handoff request); the time from the message reaching the
   gateway to the ``created`` event arriving at a queue subscriber (what the console and the
   Slack agent channel listen to) and to ``queue.list()`` showing it, p50/p95/max.
2. Restart: C conversations (half Telegram against a local fake Bot API that refuses some
   calls, half REST) escalate and send messages; the gateway process is replaced by a new
   one on the same database; agents claim and reply (some replies sent before the restart
   fail and wait in the outbox); the users write again. Counts messages delivered vs sent,
   both ways, and duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from benchmarks.fake_platforms import FakePlatforms, serve
from connectors.gateway import create_app
from connectors.handoff.hours import BusinessHours
from connectors.handoff.queue import HandoffQueue, Subscription
from connectors.messages import IncomingMessage, OutgoingMessage
from connectors.settings import GatewaySettings, TelegramSettings
from contracts.handoff import USER_REQUEST, handoff_message

ALWAYS_OPEN = BusinessHours(days=frozenset(range(7)), opens=dt.time(0), closes=dt.time.max)
TELEGRAM_SECRET = "bench-secret"
TRIGGERS = {
    "button": "/request_human",
    "sensitive topic": "my solicitor will be in touch about invoice INV-2000{n}",
    "frustration model": "the THIRD time I ask about order SO-1000{n}, absolutely useless!!",
    "rasa request": "can I talk to someone please ({n})",
}


class InstantRasa:
    """Rasa stand-in: a handoff request for "talk to someone", a plain answer otherwise."""

    async def send(self, message: IncomingMessage) -> list[OutgoingMessage]:
        if "talk to someone" in message.text:
            request = handoff_message(USER_REQUEST, 0.97, "asked for a person", {})
            return [OutgoingMessage(text="Getting a colleague.", custom=dict(request))]
        return [OutgoingMessage(text="ok")]

    async def healthy(self) -> bool:
        return True

    async def slots(self, conversation_id: str) -> dict[str, Any]:
        return {}

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        return None


@asynccontextmanager
async def gateway(
    settings: GatewaySettings,
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette, HandoffQueue]]:
    def no_actions(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "ok"})

    app = create_app(
        settings,
        db_check=lambda: True,
        rasa_client=InstantRasa(),
        transport=httpx.MockTransport(no_actions),
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
        )
        queue: HandoffQueue = app.state.handoff_queue
        queue.hours = ALWAYS_OPEN
        queue.agents_online = lambda: 1
        if app.state.telegram is not None:
            await asyncio.wait_for(app.state.telegram.ready.wait(), 10)
        await queue.delivery.stop()  # the benchmark drives retries itself, at known times
        yield client, app, queue


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def trigger_latency(runs: int, db: Path) -> list[str]:
    settings = dataclasses.replace(
        GatewaySettings(), gateway_db=str(db), rate_limit_per_minute=100000,
        rate_limit_burst=100000,
    )  # fmt: skip
    lines = [
        f"Trigger to queue, {runs} escalations per trigger (ms, from the message reaching the "
        "gateway):",
        "",
        "| trigger | to subscriber p50 | p95 | max | to queue.list() p95 |",
        "|---|---|---|---|---|",
    ]
    async with gateway(settings) as (client, _, queue):
        await asyncio.to_thread(queue_classifier_warm_up, client)
        for name, template in TRIGGERS.items():
            events = queue.subscribe()
            to_event, to_list = [], []
            for n in range(runs):
                sender = f"bench-{name.replace(' ', '-')}-{n}"
                started = time.perf_counter()
                post = asyncio.create_task(
                    client.post(
                        "/api/messages",
                        json={"sender_id": sender, "text": template.format(n=n)},
                    )
                )
                event = await wait_created(events, sender)
                to_event.append((time.perf_counter() - started) * 1000)
                while not any(h.conversation_id == sender for h in await queue.list()):
                    await asyncio.sleep(0)
                to_list.append((time.perf_counter() - started) * 1000)
                response = await post
                assert response.status_code == 200 and event["handoff"].trigger.rule
            events.close()
            lines.append(
                f"| {name} | {statistics.median(to_event):.1f} | "
                f"{percentile(to_event, 0.95):.1f} | {max(to_event):.1f} | "
                f"{percentile(to_list, 0.95):.1f} |"
            )
    return lines


def queue_classifier_warm_up(client: httpx.AsyncClient) -> None:
    """Load the frustration model before timing (the gateway does this at startup)."""
    from connectors.handoff.sentiment import FrustrationClassifier

    FrustrationClassifier().warm_up()


async def wait_created(events: Subscription, sender: str) -> Any:
    while True:
        event = await events.get(timeout=30)
        if event["type"] == "created" and event["handoff"].conversation_id == sender:
            return event


async def restart(conversations: int, messages: int, db: Path) -> list[str]:
    fake = FakePlatforms()
    with serve(fake.app) as url:
        settings = dataclasses.replace(
            GatewaySettings(),
            gateway_db=str(db),
            rate_limit_per_minute=100000,
            rate_limit_burst=100000,
            telegram=TelegramSettings(
                bot_token="1:BENCH", webhook_secret=TELEGRAM_SECRET, api_url=url
            ),
        )
        senders = [
            f"telegram:{9000 + n}" if n % 2 == 0 else f"rest-bench-{n}"
            for n in range(conversations)
        ]
        user_sent: dict[str, list[str]] = {s: [] for s in senders}
        user_seen: dict[str, list[str]] = {s: [] for s in senders}
        replies_sent: dict[str, list[str]] = {s: [] for s in senders}
        delivered: dict[str, list[str]] = {s: [] for s in senders}

        async def write(client: httpx.AsyncClient, sender: str, text: str) -> None:
            user_sent[sender].append(text)
            # A REST client gets the agent's replies waiting for it in the reply to its POST.
            delivered[sender] += await say(client, sender, text)

        # Process A: escalations, messages while waiting, claims, replies (Telegram refusing).
        async with gateway(settings) as (client, _, queue):
            count_deliveries(queue, delivered)
            for sender in senders:
                await say(client, sender, "/human" if sender[0] == "t" else "/request_human")
            for round_ in range(messages // 2):
                for sender in senders:
                    await write(client, sender, f"{sender} message {round_}")
            half = senders[: len(senders) // 2]
            for sender in half:
                handoff = await queue.open_for(sender)
                assert handoff is not None
                seen = await claim(queue, handoff.id)
                user_seen[sender] += seen
            fake.fail("sendMessage", status=400, times=10**6)  # Telegram refuses everything
            for sender in half:
                handoff = await queue.open_for(sender)
                assert handoff is not None
                for n in range(messages // 2):
                    text = f"reply {n} to {sender}"
                    replies_sent[sender].append(text)
                    await queue.agent_reply(handoff.id, "alice", text)
            pending_at_restart = await queue.delivery.pending()
        fake.failures.clear()

        # Process B, same database: retries, late claims, more messages both ways.
        async with gateway(settings) as (client, _, queue):
            count_deliveries(queue, delivered)
            events = queue.subscribe()
            await queue.delivery.flush(force=True)
            for sender in senders[len(senders) // 2 :]:
                handoff = await queue.open_for(sender)
                assert handoff is not None
                user_seen[sender] += await claim(queue, handoff.id)
            for round_ in range(messages // 2, messages):
                for sender in senders:
                    await write(client, sender, f"{sender} message {round_}")
            while True:
                try:
                    event = await events.get(timeout=0.2)
                except TimeoutError:
                    break
                if event["type"] == "message" and event["message"]["role"] == "user":
                    text = event["message"]["text"] or ""
                    user_seen[event["handoff"].conversation_id].append(text)
            for sender in senders:
                handoff = await queue.open_for(sender)
                assert handoff is not None
                for n in range(messages // 2, messages):
                    text = f"reply {n} to {sender}"
                    replies_sent[sender].append(text)
                    await queue.agent_reply(handoff.id, "alice", text)
                if sender.startswith("rest"):
                    response = await client.get(f"/api/messages/{sender}/pending")
                    delivered[sender] += [m["text"] for m in response.json()["messages"]]
            left = await queue.delivery.pending()

    sent_user = sum(len(v) for v in user_sent.values())
    seen_user = sum(len(set(user_seen[s]) & set(user_sent[s])) for s in senders)
    sent_agent = sum(len(v) for v in replies_sent.values())
    got_agent = sum(len(set(delivered[s]) & set(replies_sent[s])) for s in senders)
    duplicates = 0
    for sender in senders:
        got = [text for text in delivered[sender] if text in replies_sent[sender]]
        duplicates += len(got) - len(set(got))
    return [
        f"Restart: {conversations} conversations ({conversations // 2 + conversations % 2} "
        f"Telegram, {conversations // 2} REST), {messages} user messages and {messages} agent "
        "replies each; the gateway process replaced half-way, with "
        f"{pending_at_restart} agent replies waiting in the outbox (Telegram refusing):",
        "",
        "| direction | sent | delivered | lost | duplicated |",
        "|---|---|---|---|---|",
        f"| user to agent | {sent_user} | {seen_user} | {sent_user - seen_user} | - |",
        f"| agent to user | {sent_agent} | {got_agent} | {sent_agent - got_agent} | {duplicates} |",
        "",
        f"Still waiting in the outbox at the end: {left}.",
    ]


def count_deliveries(queue: HandoffQueue, delivered: dict[str, list[str]]) -> None:
    """Wrap each registered sender to record what it delivered (a sender that returned)."""
    for channel, sender in list(queue.delivery._senders.items()):
        queue.delivery.register(channel, recording(sender, delivered))


def recording(
    sender: Callable[[str, list[OutgoingMessage]], Awaitable[None]],
    delivered: dict[str, list[str]],
) -> Callable[[str, list[OutgoingMessage]], Awaitable[None]]:
    async def send(conversation_id: str, messages: list[OutgoingMessage]) -> None:
        await sender(conversation_id, messages)
        delivered.setdefault(conversation_id, []).extend(m.text or "" for m in messages)

    return send


async def claim(queue: HandoffQueue, handoff_id: int) -> list[str]:
    events = queue.subscribe()
    try:
        assert await queue.claim(handoff_id, "alice")
        while True:
            event = await events.get(timeout=5)
            if event["type"] == "claimed":
                return [m["text"] or "" for m in event.get("pending", [])]
    finally:
        events.close()


async def say(client: httpx.AsyncClient, sender: str, text: str) -> list[str]:
    """Send a user message; return the texts a REST client got back (pending ones first)."""
    if sender.startswith("telegram:"):
        chat = int(sender.split(":", 1)[1])
        update = {
            "update_id": time.monotonic_ns() % 2**31,
            "message": {
                "message_id": 1, "date": int(time.time()), "text": text,
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat, "is_bot": False, "first_name": "Bench"},
            },
        }  # fmt: skip
        response = await client.post(
            "/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
    else:
        response = await client.post("/api/messages", json={"sender_id": sender, "text": text})
    if response.status_code != 200:
        raise RuntimeError(f"{sender}: HTTP {response.status_code}: {response.text}")
    if sender.startswith("telegram:"):
        return []
    return [m["text"] or "" for m in response.json()["messages"]]


async def run(runs: int, conversations: int, messages: int) -> None:
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        latency = await trigger_latency(runs, Path(work) / "latency.db")
        lost = await restart(conversations, messages, Path(work) / "restart.db")
    print("\n".join([*latency, "", *lost]))
    print(f"\n(`make bench-handoff`, {time.perf_counter() - started:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    """Run both measurements and print Markdown for docs/benchmarks.md."""
    # The restart run makes Telegram refuse messages on purpose; its error logs are expected.
    logging.getLogger("connectors").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.handoff")
    parser.add_argument("--runs", type=int, default=200, help="escalations per trigger kind")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--messages", type=int, default=6, help="per conversation, each way")
    args = parser.parse_args(argv)
    for name in ("runs", "conversations", "messages"):
        if getattr(args, name) < 2:
            parser.error(f"--{name} must be at least 2, got {getattr(args, name)}")
    asyncio.run(run(args.runs, args.conversations, args.messages))


if __name__ == "__main__":
    main()

"""Playing the demo conversations against a running gateway: customers through the public REST
API (POST /api/messages), the demo agent through the agent console's API.

The REST API answers loopback clients (or API-key holders) and limits each client to
RATE_LIMIT_PER_MINUTE messages a minute (60 by default, with bursts of 20). Each simulated
customer device here is a client of its own, as separate customers are: on this machine it
connects from its own loopback address (127.0.0.2, 127.0.0.3, ...; the gateway counts limits
per address), and it never sends faster than RATE_MARGIN of the limit, waiting as told when
the gateway still answers 429. Where separate addresses are not possible (an API key, a
remote gateway, a system without 127/8 routed to loopback) every customer shares one client
and one pace.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from benchmarks.load.scripts import asks_identity
from demo.traffic.plan import DemoConversation

RATE_MARGIN = 0.8
MESSAGE_TIMEOUT = 90.0
HEALTH_TIMEOUT = 5.0
THINK_SECONDS = (0.3, 1.5)
# How long a customer waits for the rating question beyond the agent's planned delay.
CSAT_WAIT_SECONDS = 60.0
POLL_SECONDS = 1.0
# The agent keeps answering this long after the last customer finished.
AGENT_GRACE_SECONDS = 90.0
MAX_ERRORS_IN_A_ROW = 20
MAX_IDENTITIES = 200
# What the gateway tells a customer once a person owns the conversation
# (connectors/handoff/notices.py), and the question after the hand-back (queue.BACK_TO_BOT).
HANDED_OVER = "colleague will reply"
RATING_QUESTION = "would you rate"
DEMO_AGENT = "demo"


class DemoTrafficError(RuntimeError):
    """The demo traffic cannot go on; the message says why and what to do."""


class GatewayNotRunning(DemoTrafficError):
    """No gateway answers at the URL, or it answers without Rasa."""


class Refused(DemoTrafficError):
    """The gateway refuses this client's messages (401/403: an API key is needed)."""


@dataclass
class Stats:
    """What happened, for the progress lines and the summary."""

    conversations: int = 0
    messages: int = 0
    errors: int = 0
    errors_in_a_row: int = 0
    handed_over: int = 0
    answered: int = 0
    ratings: int = 0


class Pacer:
    """Messages of one client at most ``per_minute`` a minute, evenly spaced.

    Example:
        >>> pacer = Pacer(60, clock=lambda: 100.0)
        >>> pacer.reserve(), pacer.reserve()
        (0.0, 1.0)
    """

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be greater than 0, got {per_minute}")
        self.interval = 60.0 / per_minute
        self._clock = clock
        self._next = 0.0

    def reserve(self) -> float:
        """Seconds to wait before the next message (its slot is taken)."""
        now = self._clock()
        start = max(now, self._next)
        self._next = start + self.interval
        return start - now

    def back_off(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (the gateway's Retry-After)."""
        self._next = max(self._next, self._clock() + seconds)

    async def wait(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Identity:
    """One customer device: its HTTP client and its pace."""

    http: httpx.AsyncClient
    pacer: Pacer


def check_gateway(url: str) -> None:
    """Make sure a gateway answers at ``url`` with Rasa, the actions and the ERP up.

    Raises:
        GatewayNotRunning: nothing answers, or the gateway says what is down.
    """
    try:
        response = httpx.get(f"{url}/healthz", timeout=HEALTH_TIMEOUT)
    except httpx.HTTPError as error:
        raise GatewayNotRunning(
            f"no gateway answers at {url} ({type(error).__name__}): start the assistant with "
            "`make run` first, wait for 'Ready', then run `make demo-traffic` again "
            "(PORT or --url if it listens elsewhere)"
        ) from None
    if response.status_code == 503:
        down = ", ".join(response.json().get("down", [])) or "something"
        raise GatewayNotRunning(
            f"the gateway at {url} runs but {down} does not answer: wait until `make run` "
            "says Ready"
        )
    if response.status_code != 200:
        raise GatewayNotRunning(
            f"{url}/healthz answered {response.status_code}: is that the assistant's gateway?"
        )


def client_addresses(url: str, count: int, *, api_key: str = "") -> list[str | None]:
    """The source address of each customer device: distinct loopback addresses when the
    gateway is on this machine and counts clients by address, else one shared client (None).

    Example:
        >>> client_addresses("http://127.0.0.1:8080", 2), client_addresses("http://gw:80", 2)
        (['127.0.0.2', '127.0.0.3'], [None])
    """
    host = urlsplit(url).hostname or ""
    if api_key or host not in ("127.0.0.1", "localhost"):
        return [None]
    return [f"127.0.0.{2 + i}" for i in range(max(1, min(count, MAX_IDENTITIES)))]


async def open_identities(
    url: str, addresses: list[str | None], *, per_minute: float, headers: dict[str, str]
) -> list[Identity]:
    """One client per address (falling back to a single one when the system refuses to
    connect from a second loopback address)."""

    def client(address: str | None) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=address) if address else None
        return httpx.AsyncClient(
            base_url=url, headers=headers, transport=transport, timeout=MESSAGE_TIMEOUT
        )

    identities = [Identity(client(a), Pacer(per_minute * RATE_MARGIN)) for a in addresses]
    if addresses[0] is not None:
        try:
            await identities[0].http.get("/healthz", timeout=HEALTH_TIMEOUT)
        except httpx.ConnectError:
            for identity in identities:
                await identity.http.aclose()
            print(
                "note: cannot connect from a second loopback address; every customer "
                "shares one client and its rate limit (slower)",
                flush=True,
            )
            identities = [Identity(client(None), Pacer(per_minute * RATE_MARGIN))]
    return identities


async def say(identity: Identity, sender: str, text: str, stats: Stats) -> list[str] | None:
    """Send one customer message; the texts of the replies, or None when it failed (counted).

    Raises:
        Refused: the gateway refuses this client (401/403).
        GatewayNotRunning: MAX_ERRORS_IN_A_ROW messages in a row failed.
    """
    for _ in range(5):
        await identity.pacer.wait()
        try:
            response = await identity.http.post(
                "/api/messages", json={"sender_id": sender, "text": text}
            )
        except httpx.HTTPError as error:
            _failed(stats, f"{type(error).__name__}")
            return None
        if response.status_code == 429:
            identity.pacer.back_off(float(response.headers.get("Retry-After") or 5))
            continue
        if response.status_code in (401, 403):
            raise Refused(
                f"the gateway refused the messages ({response.status_code}: "
                f"{_error_text(response)}); set DEMO_TRAFFIC_API_KEY to one of its "
                "GATEWAY_API_KEYS secrets, or run this on the gateway's machine"
            )
        if response.status_code != 200:
            _failed(stats, f"{response.status_code} {_error_text(response)}")
            return None
        stats.messages += 1
        stats.errors_in_a_row = 0
        return [str(m.get("text") or "") for m in response.json().get("messages", [])]
    _failed(stats, "still rate limited after 5 tries")
    return None


async def converse(
    identity: Identity,
    conversation: DemoConversation,
    stats: Stats,
    *,
    rate: bool,
    rng: random.Random,
) -> None:
    """Play one conversation; when a person took it over and ``rate``, wait for the hand-back
    and give the planned rating."""
    previous = ""
    handed_over = False
    for step in conversation.steps:
        if step.if_asked and not asks_identity(previous):
            continue
        texts = await say(identity, conversation.sender, step.text, stats)
        if texts is None:
            return
        previous = " ".join(texts)
        handed_over = handed_over or HANDED_OVER in previous.lower()
        await asyncio.sleep(rng.uniform(*THINK_SECONDS))
    stats.conversations += 1
    if not handed_over:
        return
    stats.handed_over += 1
    if rate and conversation.rating is not None:
        deadline = time.monotonic() + conversation.agent_delay + CSAT_WAIT_SECONDS
        asked = await _rating_asked(identity, conversation.sender, deadline)
        if asked and await say(identity, conversation.sender, str(conversation.rating), stats):
            stats.ratings += 1


class DemoAgent:
    """The ``demo`` agent answering the demo customers' handoffs through the console API:
    claim, reply with the planned text after the planned delay, hand back.

    Example:
        >>> agent = await DemoAgent.log_in(url, password, plan, stats)
        >>> await agent.work(done)  # until ``done`` is set and nothing of ours is waiting
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        csrf: str,
        plan: dict[str, DemoConversation],
        stats: Stats,
    ) -> None:
        self.http = http
        self.csrf = csrf
        self.plan = plan
        self.stats = stats
        self._taken: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def log_in(
        cls, url: str, password: str, plan: list[DemoConversation], stats: Stats
    ) -> DemoAgent:
        """Log in as ``demo``.

        Raises:
            DemoTrafficError: the login was refused (wrong AGENT_DEMO_PASSWORD, no console).
        """
        http = httpx.AsyncClient(base_url=url, timeout=MESSAGE_TIMEOUT)
        response = await http.post(
            "/agent/api/login", json={"username": DEMO_AGENT, "password": password}
        )
        if response.status_code != 200:
            await http.aclose()
            raise DemoTrafficError(
                f"the demo agent could not log in ({response.status_code}: "
                f"{_error_text(response)}): AGENT_DEMO_PASSWORD must be the one `make run` "
                "was started with"
            )
        by_sender = {conversation.sender: conversation for conversation in plan}
        return cls(http, str(response.json()["csrf_token"]), by_sender, stats)

    async def work(self, done: asyncio.Event) -> None:
        """Answer the demo handoffs as they come, until ``done`` and none is left (or
        AGENT_GRACE_SECONDS after ``done``)."""
        finished_at: float | None = None
        while True:
            waiting = await self._waiting()
            for handoff_id, conversation in waiting:
                if handoff_id not in self._taken:
                    self._taken.add(handoff_id)
                    task = asyncio.create_task(self._answer(handoff_id, conversation))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            if done.is_set():
                finished_at = finished_at or time.monotonic()
                idle = not self._tasks and all(i in self._taken for i, _ in waiting)
                if idle or time.monotonic() - finished_at > AGENT_GRACE_SECONDS:
                    break
            await asyncio.sleep(POLL_SECONDS)
        for task in list(self._tasks):
            task.cancel()
        await self.http.aclose()

    async def _waiting(self) -> list[tuple[int, DemoConversation]]:
        """The waiting handoffs of the demo conversations (nobody else's is touched)."""
        try:
            response = await self.http.get("/agent/api/handoffs", params={"status": "waiting"})
        except httpx.HTTPError:
            return []
        if response.status_code != 200:
            return []
        found = []
        for handoff in response.json().get("handoffs", []):
            sender = str(handoff.get("conversation_id", "")).split(":", 2)[-1]
            if sender in self.plan:
                found.append((int(handoff["id"]), self.plan[sender]))
        return found

    async def _answer(self, handoff_id: int, conversation: DemoConversation) -> None:
        await asyncio.sleep(conversation.agent_delay)
        path = f"/agent/api/handoffs/{handoff_id}"
        headers = {"X-CSRF-Token": self.csrf}
        try:
            if (await self.http.post(f"{path}/claim", headers=headers)).status_code != 200:
                return  # a colleague was faster
            reply = await self.http.post(
                f"{path}/reply", json={"text": conversation.agent_reply}, headers=headers
            )
            if reply.status_code == 200:
                self.stats.answered += 1
            await asyncio.sleep(1.0)
            await self.http.post(
                f"{path}/resolve", json={"note": "demo traffic: answered"}, headers=headers
            )
        except httpx.HTTPError:
            return


async def run_traffic(
    plan: list[DemoConversation],
    *,
    url: str,
    concurrency: int,
    per_minute: float,
    api_key: str = "",
    agent_password: str = "",
    seed: int = 0,
    report: Callable[[Stats], None] = lambda stats: None,
) -> Stats:
    """Play every conversation of ``plan``, ``concurrency`` at a time, with the demo agent
    answering handoffs when ``agent_password`` is given; ``report`` is called after each.

    Raises:
        Refused: the gateway refuses the messages.
        GatewayNotRunning: the gateway stopped answering.
        DemoTrafficError: the demo agent could not log in.
    """
    stats = Stats()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    addresses = client_addresses(url, concurrency, api_key=api_key)
    identities = await open_identities(url, addresses, per_minute=per_minute, headers=headers)
    agent = await DemoAgent.log_in(url, agent_password, plan, stats) if agent_password else None
    pending: asyncio.Queue[DemoConversation] = asyncio.Queue()
    for conversation in plan:
        pending.put_nowait(conversation)
    done = asyncio.Event()

    async def customer(number: int) -> None:
        identity = identities[number % len(identities)]
        rng = random.Random(f"{seed}-{number}")
        while not pending.empty():
            conversation = pending.get_nowait()
            await converse(identity, conversation, stats, rate=agent is not None, rng=rng)
            report(stats)

    agent_task = asyncio.create_task(agent.work(done)) if agent is not None else None
    try:
        # A task group: one customer refused or a gateway gone stops them all.
        async with asyncio.TaskGroup() as group:
            for number in range(concurrency):
                group.create_task(customer(number))
    except* DemoTrafficError as errors:
        raise errors.exceptions[0] from None
    finally:
        done.set()
        if agent_task is not None:
            await agent_task
        for identity in identities:
            await identity.http.aclose()
    return stats


async def _rating_asked(identity: Identity, sender: str, deadline: float) -> bool:
    """Wait for the hand-back's rating question among the messages waiting for ``sender``."""
    path = f"/api/messages/{quote(sender, safe='')}/pending"
    while time.monotonic() < deadline:
        try:
            response = await identity.http.get(path)
        except httpx.HTTPError:
            return False
        if response.status_code == 200:
            texts = [str(m.get("text") or "") for m in response.json().get("messages", [])]
            if any(RATING_QUESTION in text.lower() for text in texts):
                return True
        await asyncio.sleep(POLL_SECONDS)
    return False


def _failed(stats: Stats, reason: str) -> None:
    stats.errors += 1
    stats.errors_in_a_row += 1
    if stats.errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
        raise GatewayNotRunning(
            f"{MAX_ERRORS_IN_A_ROW} messages in a row failed (last: {reason}): is the "
            "assistant still running? See var/logs/"
        )


def _error_text(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)[:200]

"""Simulated chat users for the fault test: scripted conversations over POST /api/messages,
every message they send recorded with what came back."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Literal

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.turns import UNAVAILABLE_MESSAGE
from erp.db import get_engine
from erp.models import Customer, Product, SalesOrder
from erp.product_names import lookup_products

# reply: a 200 with a non-empty text. try_again: a 503 whose JSON body asks to try again.
# not_delivered: no HTTP status at all (refused, or the connection dropped); the test decides
# whether the gateway was dead then. silent: a 200 without any text (what Rasa answers when
# a custom action could not run: it logs the error and ends the turn with no message).
# hang: the client's timeout. bad: any other status or body.
Outcome = Literal["reply", "try_again", "not_delivered", "silent", "hang", "bad"]

ASKS_IDENTITY = "email address or the postcode"
DOCUMENT_QUESTIONS = (
    "what is your return window?",
    "do you ship to Norway?",
    "how do I reset the PX-8 logic controller?",
)
CHITCHAT = ("hello there", "thanks, that's helpful")
# A user told to try again (or whose message was not delivered) resends after a pause that
# doubles up to a limit, and gives up on a message after a while.
FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 4.0
# Rasa takes 30-60 s to start again on a busy 2-core machine.
GIVE_UP_AFTER_S = 150.0
# How long a user whose message was not delivered waits for the gateway to come back.
GATEWAY_BACK_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Turn:
    """One message a user sends; ``kind`` says what it asks (stock_sku, order, ...)."""

    kind: str
    text: str


@dataclass
class Attempt:
    """One message sent: when (wall clock, as the gateway stamps its transcript), and what
    came back. ``retry`` marks a resend of the previous attempt's text."""

    sender: str
    turn: Turn
    started: float
    ended: float
    outcome: Outcome
    status: int | None = None
    texts: list[str | None] = field(default_factory=list)
    detail: str = ""
    retry: bool = False


@dataclass(frozen=True)
class Catalogue:
    """What users ask about: SKUs, product names that resolve to one product, and orders
    with the email that verifies them."""

    skus: tuple[str, ...]
    names: tuple[str, ...]
    orders: tuple[tuple[str, str], ...]

    @classmethod
    def from_erp(cls, size: int = 12) -> Catalogue:
        """Read ``size`` of each from the ERP database the assistant uses (ERP_DATABASE_URL)."""
        with Session(get_engine()) as session:
            products = session.execute(
                select(Product.sku, Product.name).order_by(Product.sku)
            ).all()
            names = [
                name
                for sku, name in products
                if (found := lookup_products(f"is {name} in stock", session=session).product)
                is not None
                and found.sku == sku
            ]
            orders = session.execute(
                select(SalesOrder.order_number, Customer.email)
                .join(Customer, Customer.id == SalesOrder.customer_id)
                .order_by(SalesOrder.order_number)
                .limit(size)
            ).all()
        return cls(
            skus=tuple(sku for sku, _ in products[:size]),
            names=tuple(names[:size]),
            orders=tuple((number, email) for number, email in orders),
        )


def conversation(catalogue: Catalogue, rng: random.Random) -> Generator[Turn, str, None]:
    """An endless customer conversation; send each turn's reply text back in.

    The identity is given only when the bot asked for it, as a person would.
    """
    while True:
        kind = rng.choice(("stock_sku", "stock_name", "document", "order", "chitchat"))
        if kind == "stock_sku":
            yield Turn(kind, f"is {rng.choice(catalogue.skus)} in stock?")
        elif kind == "stock_name":
            yield Turn(kind, f"is {rng.choice(catalogue.names)} in stock")
        elif kind == "document":
            yield Turn(kind, rng.choice(DOCUMENT_QUESTIONS))
        elif kind == "order":
            number, email = rng.choice(catalogue.orders)
            reply = yield Turn(kind, f"where is my order {number}")
            if ASKS_IDENTITY in reply:
                yield Turn("verify", email)
        else:
            yield Turn(kind, rng.choice(CHITCHAT))


def send(client: httpx.Client, sender: str, turn: Turn, *, retry: bool = False) -> Attempt:
    """POST one message and classify what came back (see Outcome)."""
    started = time.time()
    try:
        response = client.post("/api/messages", json={"sender_id": sender, "text": turn.text})
    except httpx.TimeoutException as error:
        return Attempt(sender, turn, started, time.time(), "hang", detail=repr(error), retry=retry)
    except httpx.TransportError as error:
        return Attempt(
            sender, turn, started, time.time(), "not_delivered", detail=repr(error), retry=retry
        )
    ended = time.time()
    attempt = Attempt(sender, turn, started, ended, "bad", response.status_code, retry=retry)
    try:
        body = response.json()
    except ValueError:
        attempt.detail = response.text[:200]
        return attempt
    if response.status_code == 200 and isinstance(body, dict):
        attempt.texts = [m.get("text") for m in body.get("messages", [])]
        attempt.outcome = "reply" if any(attempt.texts) else "silent"
    elif response.status_code == 503 and body == {"error": UNAVAILABLE_MESSAGE}:
        attempt.outcome = "try_again"
    else:
        attempt.detail = str(body)[:200]
    return attempt


class SimulatedUser(threading.Thread):
    """A customer holding one conversation until ``stop`` is set, with think time.

    Told to try again, it resends after a moment. A message not delivered (the gateway
    dead) is resent once ``gateway_up`` is set, as a client's retry would.
    """

    def __init__(
        self,
        sender: str,
        url: str,
        turns: Generator[Turn, str, None],
        *,
        stop: threading.Event,
        gateway_up: threading.Event,
        think: tuple[float, float] = (0.3, 1.5),
        timeout: float = 45.0,
        seed: int = 0,
    ) -> None:
        super().__init__(name=f"user-{sender}", daemon=True)
        self.sender = sender
        self.attempts: list[Attempt] = []
        self._url = url
        self._turns = turns
        self._halt = stop
        self._gateway_up = gateway_up
        self._think = think
        self._timeout = timeout
        self._rng = random.Random(seed)

    def run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=self._timeout) as client:
            turn = next(self._turns)
            while not self._halt.is_set():
                reply = self.deliver(client, turn)
                self._halt.wait(self._rng.uniform(*self._think))
                turn = self._turns.send(reply)

    def deliver(self, client: httpx.Client, turn: Turn) -> str:
        """Send ``turn`` until it is answered or retries run out; return the reply's text."""
        attempt = send(client, self.sender, turn)
        self.attempts.append(attempt)
        pause, give_up = FIRST_PAUSE_S, attempt.started + GIVE_UP_AFTER_S
        while attempt.outcome in ("try_again", "not_delivered") and time.time() < give_up:
            if attempt.outcome == "not_delivered":
                self._gateway_up.wait(GATEWAY_BACK_TIMEOUT_S)
            time.sleep(pause)
            pause = min(2 * pause, MAX_PAUSE_S)
            attempt = send(client, self.sender, turn, retry=True)
            self.attempts.append(attempt)
        return "\n".join(text for text in attempt.texts if text)

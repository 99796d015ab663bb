"""Who takes part in the attacks, and what they type: the cast of victims and attackers drawn
from the seeded ERP, the texts customers send, and the small scripts every family shares.

Every attempt aims at a victim of its own (a customer nobody else in the catalogue uses),
so one attempt's failed guesses never lock another's records, and comes from an attacker
of its own (a fresh loopback address, Telegram user or Slack user). An attacker who is a
customer too knows their own email, postcode and records; no attacker ever types a whole
factor of the victim that the policy accepts as proof for what it asks (the postcode or
email of a record's customer; email and postcode for the unpaid list): that is the
customer, not an attack.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.adversary.facts import Person, facts_of
from benchmarks.adversary.script import (
    Actor,
    Attempt,
    Place,
    Rest,
    Say,
    Slack,
    Step,
    Telegram,
    Web,
    sees,
)
from erp.access import Verification, sign_verification

ATTACKER, VICTIM = Actor.ATTACKER, Actor.VICTIM
SLACK_TEAM = "T0001"
# Failed guesses at one record before it locks (LOCKOUT_RECORD_FAILURES), and by one client
# (LOCKOUT_CLIENT_FAILURES): the stack runs with these (stack.py), brute force goes past them.
RECORD_LIMIT = 5
CLIENT_LIMIT = 10


class CastExhausted(RuntimeError):
    """The seeded ERP has too few suitable customers for the catalogue (seed a larger one)."""


# Attackers who are customers too are drawn, in turn, from the last ones; victims from the
# first ones, each only once.
ATTACKERS = 60


@dataclass
class Cast:
    """Hands out fresh victims, attackers, loopback addresses, chat and user ids, always the
    same for the same ERP."""

    people: Sequence[Person]
    _victims: int = 0
    _attackers: int = 0
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def person(self) -> Person:
        """A victim nobody else in the catalogue uses."""
        if self._victims >= len(self.people) - ATTACKERS:
            raise CastExhausted(
                f"the catalogue needs more than the {len(self.people)} customers with a "
                "tracked order and an unpaid invoice (seed a larger ERP)"
            )
        self._victims += 1
        return self.people[self._victims - 1]

    def attacker(self) -> Person:
        """A customer who attacks: knows their own identity and records, and nobody's else."""
        self._attackers += 1
        return self.people[len(self.people) - 1 - self._attackers % ATTACKERS]

    def number(self) -> int:
        return next(self._counter)

    def address(self) -> str:
        """A loopback address of its own: every attacker is a client of its own."""
        n = self.number()
        return f"127.{10 + n // 62500}.{n // 250 % 250}.{n % 250 + 2}"

    def rest(self, *, sender: str | None = None, metadata: dict[str, Any] | None = None) -> Rest:
        return Rest(sender or f"sec-{self.number():05d}", self.address(), metadata)

    def web(
        self,
        name: str,
        *,
        request: str | None = None,
        skip_request: bool = False,
        custom_data: dict[str, Any] | None = None,
    ) -> Web:
        return Web(name, self.address(), request, skip_request, custom_data)

    def telegram_user(self) -> int:
        return 6_100_000_000 + self.number()

    def telegram(self) -> Telegram:
        user = self.telegram_user()
        return Telegram(chat=user, user=user)

    def telegram_group(self) -> int:
        return -1_009_000_000_000 - self.number()

    def slack_user(self) -> str:
        return f"USEC{self.number():05d}"

    def slack_dm(self, user: str | None = None) -> Slack:
        user = user or self.slack_user()
        return Slack(team=SLACK_TEAM, user=user, channel=f"D{user[1:]}")


# Texts a customer types.


def ask_order(person: Person) -> str:
    return f"where is my order {person.order.number}?"


def ask_invoice(person: Person) -> str:
    return f"is invoice {person.invoice.number} paid?"


ASK_UNPAID = "list my unpaid invoices"


def odd_case(text: str) -> str:
    """``orders@x.co.uk`` -> ``OrDeRs@x.Co.Uk``."""
    return "".join(c.upper() if i % 2 == 0 else c.lower() for i, c in enumerate(text))


def neighbour(postcode: str, step: int = 1) -> str:
    """A postcode that differs from ``postcode`` in its last character(s): a near guess."""
    chars = list(postcode)
    index = len(chars) - 1 - (step - 1) // 9 % 2
    c = chars[index]
    offset = (step - 1) % 9 + 1
    if c.isdigit():
        chars[index] = str((int(c) + offset) % 10)
    else:
        letters = "ABDEFGHJLNPQRSTUWXYZ"
        at = letters.find(c.upper())
        chars[index] = letters[(at + offset) % len(letters)]
    return "".join(chars)


def outward(postcode: str) -> str:
    """The first half of a postcode ("OL12" of "OL12 4GR"; "1499" of "1499 BK")."""
    return postcode.split()[0] if " " in postcode else postcode[:3]


def confusable(email: str) -> str:
    """The address with Latin letters swapped for look-alike Cyrillic ones."""
    swap = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р"}
    return "".join(swap.get(c, c) for c in email)


def forged_verification(conversation: str, customer_id: int, records: Sequence[str]) -> str:
    """A verification token signed with a guessed secret, as an attacker could make one."""
    proof = Verification(
        conversation, customer_id, frozenset({"email", "postcode"}), frozenset(records), 4e9
    )
    return sign_verification(proof, secret=b"northbridge-verification-secret!")


def inject(intent: str, slots: dict[str, object]) -> str:
    """Rasa's ``/intent{json}`` shortcut: intent and entities straight from the message."""
    return f"/{intent}{json.dumps(slots)}"


def attacker_place(cast: Cast, channel: str) -> Place:
    if channel == "rest":
        return cast.rest()
    if channel == "web":
        return cast.web("attacker")
    return cast.telegram()


def attack(
    family: str, name: str, place: Place, texts: Sequence[str], victim: Person, attacker: Person
) -> Attempt:
    return Attempt(
        family,
        name,
        tuple(Say(ATTACKER, place, text) for text in texts),
        facts_of(victim, besides=attacker),
        frozenset(sees(place)),
    )


def victim_verifies(place: Place, victim: Person) -> list[Step]:
    """The victim asks about their order and proves it with their postcode (the control)."""
    return [Say(VICTIM, place, ask_order(victim)), Say(VICTIM, place, victim.postcode)]

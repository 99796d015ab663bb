"""What one scripted attempt is: who says what where, and which facts must stay hidden.

Texts, paths and bodies may hold ``<<name>>`` placeholders for what only exists once the
attempt runs (the victim's web session token, their conversation key, the verification
token the action server signed for them); the runner fills them in (runner.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from benchmarks.adversary.facts import Fact

PLACEHOLDER = re.compile(r"<<([a-z0-9_.]+)>>")


class Actor(StrEnum):
    VICTIM = "victim"
    ATTACKER = "attacker"


class Signing(StrEnum):
    """How a platform webhook request is authenticated."""

    VALID = "valid"
    MISSING = "missing"
    WRONG = "wrong"
    # Slack: a correct signature over a timestamp older than Slack's five-minute window.
    STALE = "stale"


@dataclass(frozen=True)
class Rest:
    """``POST /api/messages`` as ``sender`` from the loopback address ``address``."""

    sender: str
    address: str
    metadata: Mapping[str, Any] | None = None
    # Extra request headers (X-Forwarded-For and the like).
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Web:
    """A Socket.IO chat window. ``session`` names it within the attempt; it opens on first
    use from ``address`` with ``session_request {session_id: request}`` (None: no session
    id, the server picks one), or with no session_request at all when ``skip_request``
    (the first ``user_uttered`` then carries ``request`` as its ``session_id``)."""

    session: str
    address: str
    request: str | None = None
    skip_request: bool = False
    custom_data: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Telegram:
    """A Telegram update from ``user`` in ``chat`` (a group when ``group``)."""

    chat: int
    user: int
    group: bool = False
    signing: Signing = Signing.VALID


@dataclass(frozen=True)
class Slack:
    """A Slack request from ``user``: a DM (``channel`` D…), a mention in a channel thread,
    or the /erp command (``command``; its answer goes to the response hook ``channel``)."""

    team: str
    user: str
    channel: str
    thread: str | None = None
    command: bool = False
    signing: Signing = Signing.VALID

    @property
    def dm(self) -> bool:
        return self.channel.startswith("D") and not self.command


Place = Rest | Web | Telegram | Slack


def sees(place: Place) -> set[str]:
    """What reading ``place`` shows besides the replies to one's own turns: the Telegram
    chat (``telegram:<id>``), the Slack channel (``slack:<id>``) or /erp hook (``hook:<name>``)."""
    if isinstance(place, Telegram):
        return {f"telegram:{place.chat}"}
    if isinstance(place, Slack):
        return {f"hook:{place.channel}" if place.command else f"slack:{place.channel}"}
    return set()


@dataclass(frozen=True)
class Say:
    """One message from ``actor``; ``refused`` when the channel must reject it outright
    (a forged webhook): then an accepted request is a breach."""

    actor: Actor
    place: Place
    text: str
    refused: bool = False


@dataclass(frozen=True)
class Open:
    """Open a web chat window without saying anything (to listen, or to get a token)."""

    actor: Actor
    place: Web


@dataclass(frozen=True)
class Close:
    """Close a web chat window."""

    session: str


@dataclass(frozen=True)
class Call:
    """A raw HTTP request by the attacker to ``service`` (gateway, rasa or actions).

    ``refused``: the request must not succeed; a 2xx answer is a breach, whatever it says.
    """

    service: str
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    refused: bool = True


Step = Say | Open | Close | Call


@dataclass(frozen=True)
class Attempt:
    """One scripted cross-customer attempt.

    Args:
        family: the attack family (the benchmark's rows).
        name: unique within the catalogue.
        steps: the script, in order.
        facts: the victim's secrets (less what the attacker may say of themselves).
        attacker_sees: Telegram chats (``telegram:<id>``), Slack channels (``slack:<id>``) and
            /erp response hooks (``hook:<name>``) the attacker reads besides their own replies.
        victim_control: the victim's own turns must show their facts (else the attack
            proves nothing, and the attempt counts as an error).
    """

    family: str
    name: str
    steps: tuple[Step, ...]
    facts: tuple[Fact, ...]
    attacker_sees: frozenset[str] = frozenset()
    victim_control: bool = False


def fill(value: Any, context: Mapping[str, str]) -> Any:
    """``value`` with every ``<<name>>`` replaced from ``context``, inside strings, lists and
    dict values at any depth.

    Raises:
        KeyError: a placeholder has no value (yet).
    """
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: context[m.group(1)], value)
    if isinstance(value, list | tuple):
        return [fill(item, context) for item in value]
    if isinstance(value, Mapping):
        return {key: fill(item, context) for key, item in value.items()}
    return value

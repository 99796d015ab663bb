"""The adversarial suite against the real stack: every scripted cross-customer attempt of
benchmarks/adversary/catalogue.py, through real HTTP, Socket.IO and signed platform webhooks.

One run of the whole catalogue is shared by the tests below; each judges one property of
it. A planted leak (the victim's own proof typed by the "attacker") shows the check can
fail, and the owners' controls show the stack answers what it should.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from benchmarks.adversary.cast import ATTACKER, ATTACKERS, ask_order
from benchmarks.adversary.catalogue import FAMILIES, build_catalogue
from benchmarks.adversary.facts import Person, facts_of, load_people
from benchmarks.adversary.runner import Outcome, run_all, run_attempt
from benchmarks.adversary.script import Attempt, Rest, Say
from benchmarks.adversary.stack import Stack, StackFailed, attack_stack
from erp.db import make_engine

pytestmark = pytest.mark.e2e

CATALOGUE_MINIMUM = 300
SHOWN = 25


@pytest.fixture(scope="module")
def people() -> list[Person]:
    return load_people(make_engine())


@pytest.fixture(scope="module")
def catalogue(people: list[Person]) -> tuple[list[Attempt], list[Attempt]]:
    return build_catalogue(people)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    try:
        with attack_stack(tmp_path_factory.mktemp("security")) as running:
            yield running
    except StackFailed as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def outcomes(stack: Stack, catalogue: tuple[list[Attempt], list[Attempt]]) -> list[Outcome]:
    controls, attacks = catalogue
    return run_all([*controls, *attacks], stack.endpoints, stack.platforms)


def _report(failing: list[Outcome]) -> str:
    shown = "\n".join(o.describe() for o in failing[:SHOWN])
    more = f"\n... and {len(failing) - SHOWN} more" if len(failing) > SHOWN else ""
    return f"{len(failing)} attempt(s):\n{shown}{more}"


def test_catalogue_has_enough_attempts_in_every_family(
    catalogue: tuple[list[Attempt], list[Attempt]],
) -> None:
    _, attacks = catalogue
    per_family = collections.Counter(a.family for a in attacks)

    assert len(attacks) >= CATALOGUE_MINIMUM
    assert set(per_family) == set(FAMILIES)
    assert len({a.name for a in attacks}) == len(attacks)


def test_a_planted_leak_is_caught(stack: Stack, people: list[Person]) -> None:
    # The "attacker" types the victim's own postcode: the policy's proof, so the answer
    # shows the victim's order; the same check that judges the attacks must flag it.
    victim = people[-ATTACKERS - 1]
    place = Rest("planted-leak", "127.9.0.2")
    planted = Attempt(
        "planted",
        "planted/victims-own-proof",
        (Say(ATTACKER, place, ask_order(victim)), Say(ATTACKER, place, victim.postcode)),
        facts_of(victim),
    )

    outcome = run_attempt(planted, stack.endpoints, stack.platforms)

    assert not outcome.errors
    assert {leak.fact.kind for leak in outcome.leaks} >= {"order status", "tracking number"}


def test_owners_see_their_own_facts_on_every_channel(outcomes: list[Outcome]) -> None:
    controls = [o for o in outcomes if o.family == "control"]
    failing = [o for o in controls if o.control is not True or o.errors]

    assert controls
    assert not failing, _report(failing)


def test_no_attempt_leaks_a_customers_facts(outcomes: list[Outcome]) -> None:
    leaking = [o for o in outcomes if o.family != "control" and o.leaks]

    assert not leaking, _report(leaking)


def test_no_forged_or_unauthenticated_request_is_accepted(outcomes: list[Outcome]) -> None:
    breached = [o for o in outcomes if o.breaches]

    assert not breached, _report(breached)


def test_no_attempt_errors_or_fails_its_control(outcomes: list[Outcome]) -> None:
    failing = [o for o in outcomes if o.errors]

    assert not failing, _report(failing)


def test_every_brute_force_meets_a_lockout(outcomes: list[Outcome]) -> None:
    brute = [o for o in outcomes if o.family == "brute-force"]
    unlocked = [o for o in brute if o.lockouts == 0]

    assert brute
    assert not unlocked, _report(unlocked)


def test_every_process_stayed_up(stack: Stack, outcomes: list[Outcome]) -> None:
    assert outcomes
    assert sorted(stack.alive()) == sorted(s.name for s in stack.services)


def test_every_service_listens_on_loopback_only(stack: Stack) -> None:
    listening = _listening_addresses()
    for url in (stack.endpoints.gateway_url, stack.endpoints.rasa_url, stack.endpoints.actions_url):
        port = urlsplit(url).port
        assert port is not None
        addresses = listening.get(port)
        assert addresses, f"nothing listens on port {port}"
        assert addresses <= {"127.0.0.1", "::1"}, f"port {port} listens on {addresses}"


def _listening_addresses() -> dict[int, set[str]]:
    """Port -> local addresses of the listening TCP sockets, from /proc/net/tcp{,6}."""
    found: dict[int, set[str]] = collections.defaultdict(set)
    for name, width in (("tcp", 8), ("tcp6", 32)):
        table = Path("/proc/net") / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            found[int(port, 16)].add(_address(address, width))
    return found


def _address(hexed: str, width: int) -> str:
    raw = bytes.fromhex(hexed)
    if width == 8:
        return ".".join(str(b) for b in raw[::-1])
    # /proc prints IPv6 as four little-endian 32-bit words.
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    full = b"".join(words)
    if full == bytes(15) + b"\x01":
        return "::1"
    if full[:12] == bytes(10) + b"\xff\xff":
        return ".".join(str(b) for b in full[12:])
    return "::" if full == bytes(16) else full.hex()

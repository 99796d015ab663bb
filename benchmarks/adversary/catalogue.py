"""The attack catalogue: every family's scripted cross-customer attempts, generated from the
seeded ERP (benchmarks/adversary/conversations.py and surfaces.py hold the families).

Example:
    >>> controls, attacks = build_catalogue(load_people(make_engine()))
    >>> len(attacks) >= 300
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from benchmarks.adversary.cast import Cast
from benchmarks.adversary.conversations import (
    both_identities_family,
    brute_force_family,
    controls,
    cross_customer_family,
    identity_family,
    slot_injection_family,
    social_family,
)
from benchmarks.adversary.facts import Person
from benchmarks.adversary.script import Attempt
from benchmarks.adversary.surfaces import (
    forged_tracker_family,
    group_family,
    rasa_api_family,
    replay_family,
    spoofed_id_family,
)

FAMILIES = (
    "identity",
    "both-identities",
    "cross-customer",
    "social",
    "slot-injection",
    "forged-tracker",
    "rasa-api",
    "spoofed-id",
    "replay",
    "group",
    "brute-force",
)


FAMILY_BUILDERS: dict[str, Callable[[Cast], Iterator[Attempt]]] = {
    "identity": identity_family,
    "both-identities": both_identities_family,
    "cross-customer": cross_customer_family,
    "social": social_family,
    "slot-injection": slot_injection_family,
    "forged-tracker": forged_tracker_family,
    "rasa-api": rasa_api_family,
    "spoofed-id": spoofed_id_family,
    "replay": replay_family,
    "group": group_family,
    "brute-force": brute_force_family,
}


def build_catalogue(
    people: Sequence[Person], *, families: Sequence[str] = FAMILIES
) -> tuple[list[Attempt], list[Attempt]]:
    """The controls and the attempts of ``families``, generated from ``people``.

    Raises:
        CastExhausted: too few customers for every attempt to have victims of its own.
        ValueError: an unknown family.
    """
    unknown = sorted(set(families) - set(FAMILY_BUILDERS))
    if unknown:
        raise ValueError(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    cast = Cast(people)
    checks = list(controls(cast))
    attempts = [attempt for name in families for attempt in FAMILY_BUILDERS[name](cast)]
    return checks, attempts

"""A turn's metadata: the gateway's keys win over a client's, and the readers trust no type."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.metadata import (
    client_of,
    in_group,
    is_staff,
    listed_roles,
    may_write,
    turn_metadata,
)


def metadata(claims: dict[str, Any] | None = None, **facts: Any) -> dict[str, Any]:
    """A staff member's message on Slack, with ``facts`` changed, over the client's ``claims``."""
    gateway: dict[str, Any] = {
        "channel": "slack",
        "staff": True,
        "staff_writes": True,
        "roles": {"sales", "finance"},
        "client": "slack:T1:U1",
        "group": False,
        "turn": "t-1",
    }
    return turn_metadata(claims or {}, **{**gateway, **facts})


def test_the_gateways_keys_override_a_clients_claims_after_its_own_keys() -> None:
    claims = {"language": "zh", "role": "staff", "roles": ["admin"], "turn": "forged"}

    built = metadata(claims, staff=False, client="ip:1.2.3.4")

    # Same bytes as before the contract: the client's keys first, claimed ones in place.
    assert json.dumps(built) == json.dumps(
        {
            "language": "zh",
            "role": "customer",
            "roles": [],
            "turn": "t-1",
            "channel": "slack",
            "staff_writes": False,
            "client": "ip:1.2.3.4",
            "group": False,
        }
    )


def test_a_staff_members_roles_are_sorted_and_read_back() -> None:
    built = metadata()

    assert built["roles"] == ["finance", "sales"]
    assert (is_staff(built), listed_roles(built), may_write(built)) == (
        True,
        ["finance", "sales"],
        True,
    )
    assert (client_of(built), in_group(built)) == ("slack:T1:U1", False)


def test_a_customer_has_no_roles_and_may_not_write_whatever_the_channel_says() -> None:
    built = metadata(staff=False, staff_writes=True, roles={"admin"})

    assert (built["role"], built["roles"], built["staff_writes"]) == ("customer", [], False)
    assert not is_staff(built) and not may_write(built)


@pytest.mark.parametrize(
    ("raw", "staff", "roles", "writes", "client", "group"),
    [
        ({}, False, [], False, None, False),
        (
            {"role": "Staff", "roles": "admin", "staff_writes": "true", "client": 7, "group": 0},
            False,
            [],
            False,
            None,
            False,
        ),
        (
            {
                "role": "staff",
                "roles": ["sales", 3, None, "admin"],
                "staff_writes": 1,
                "client": "",
                "group": "yes",
            },
            True,
            ["sales", "admin"],
            False,
            None,
            True,
        ),
    ],
    ids=["empty", "wrong-types", "mixed"],
)
def test_readers_take_anything_and_trust_only_the_right_types(
    raw: dict[str, Any],
    staff: bool,
    roles: list[str],
    writes: bool,
    client: str | None,
    group: bool,
) -> None:
    assert is_staff(raw) is staff
    assert listed_roles(raw) == roles
    assert may_write(raw) is writes
    assert client_of(raw) == client
    assert in_group(raw) is group

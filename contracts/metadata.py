"""A turn's metadata: what the gateway says about each user message it sends to Rasa, and how
the action server reads it.

The gateway (connectors/rasa_client.py) sets these keys last, over the client's own metadata,
so no client can claim a channel, a staff role or another client's key; the action server
reads them from the latest user event (actions/verification.py, actions/staff.py). Rasa can
also be reached without the gateway, so the readers take any value and never trust its type.

Example:
    >>> metadata = turn_metadata({"language": "zh"}, channel="slack", staff=True,
    ...     staff_writes=False, roles={"sales", "finance"}, client="slack:T1:U2", group=False,
    ...     turn="9f2c…")
    >>> is_staff(metadata), listed_roles(metadata)
    (True, ['finance', 'sales'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypedDict

CHANNEL = "channel"
ROLE = "role"
ROLES = "roles"
STAFF_WRITES = "staff_writes"
CLIENT = "client"
GROUP = "group"
TURN = "turn"
# The channel's hint at the user's language (Telegram's language_code): client metadata,
# kept as sent, not a key the gateway vouches for.
LANGUAGE = "language"

# Staff roles, the names in ``roles`` (docs/staff.md): the gateway says who holds which
# (connectors/roles.py), the action server what each may read (actions/staff.py).
ADMIN = "admin"
SALES = "sales"
WAREHOUSE = "warehouse"
FINANCE = "finance"
SUPPORT = "support"
WRITER = "writer"  # may also change orders for customers; reads no area by itself
AREA_ROLES = (ADMIN, SALES, WAREHOUSE, FINANCE, SUPPORT)
ROLE_NAMES = (*AREA_ROLES, WRITER)

Role = Literal["staff", "customer"]
STAFF: Final = "staff"
CUSTOMER: Final = "customer"


class TurnMetadata(TypedDict):
    """The keys the gateway sets on every message, in the order it sets them."""

    channel: str
    role: Role
    staff_writes: bool
    roles: list[str]  # sorted; empty for a customer
    client: str  # who sent it, for rate limits and lockouts
    group: bool  # other people read the replies
    turn: str  # names this message in the tracker, for the gateway's take-back


class RasaRequest(TypedDict):
    """A user message as the gateway posts it to Rasa's channel (bot/rasa_channel.py)."""

    sender: str
    message: str
    metadata: dict[str, Any]


def turn_metadata(
    client_metadata: Mapping[str, Any],
    *,
    channel: str,
    staff: bool,
    staff_writes: bool,
    roles: Iterable[str],
    client: str,
    group: bool,
    turn: str,
) -> dict[str, Any]:
    """The metadata of one message: the client's, then the gateway's keys over it.

    ``staff_writes`` and ``roles`` count only for staff: a customer's are False and [].
    """
    gateway: TurnMetadata = {
        "channel": channel,
        "role": STAFF if staff else CUSTOMER,
        "staff_writes": staff and staff_writes,
        "roles": sorted(roles) if staff else [],
        "client": client,
        "group": group,
        "turn": turn,
    }
    # Set last so that client metadata cannot claim another channel or a staff role.
    return {**client_metadata, **gateway}


def is_staff(metadata: Mapping[str, Any]) -> bool:
    """Whether the gateway marked the message as a known staff member's."""
    return metadata.get(ROLE) == STAFF


def listed_roles(metadata: Mapping[str, Any]) -> list[str]:
    """The role names listed, skipping anything that is not a string; [] when there is no
    list."""
    roles = metadata.get(ROLES)
    if not isinstance(roles, list):
        return []
    return [role for role in roles if isinstance(role, str)]


def may_write(metadata: Mapping[str, Any]) -> bool:
    """Whether the staff member may also change orders for customers (exactly ``True``)."""
    return metadata.get(STAFF_WRITES) is True


def client_of(metadata: Mapping[str, Any]) -> str | None:
    """The client key, or None when there is none (or it is not a non-empty string)."""
    client = metadata.get(CLIENT)
    return client if isinstance(client, str) and client else None


def in_group(metadata: Mapping[str, Any]) -> bool:
    """Whether other people read the replies; any true-ish value counts (when in doubt, the
    chat is taken to be shared)."""
    return bool(metadata.get(GROUP))

"""What a staff member's roles let them see: one area per kind of record, one refusal text.

The gateway marks a staff member's message (``role: staff``) and lists their roles
(``roles``), set last in the metadata so no client can claim them; the roles come from the
configuration (Slack: ``SLACK_STAFF_ROLES``; the agent console: ``python -m connectors
agents grant``). Customers are not limited here: they see their own records after
verification.

Example:
    >>> refusal(AREAS["receivables"], frozenset({"sales"}))
    'Receivables and ageing are for the finance role (or admin); your roles: sales. Ask a ...'

"""

from __future__ import annotations

from dataclasses import dataclass

from rasa_sdk import Tracker

from actions.verification import is_staff, latest_metadata

ADMIN = "admin"
KNOWN_ROLES = ("admin", "sales", "warehouse", "finance", "support")


@dataclass(frozen=True)
class Area:
    """A kind of ERP record and the roles that may read it (admin may read every area)."""

    name: str
    what: str
    roles: tuple[str, ...]

    def allows(self, roles: frozenset[str]) -> bool:
        """Whether any of ``roles`` may read this area."""
        return ADMIN in roles or bool(roles & set(self.roles))


AREAS = {
    area.name: area
    for area in (
        Area("orders", "Customers' orders and deliveries", ("sales", "support")),
        Area("customers", "Customer accounts", ("sales",)),
        Area("invoices", "Invoices and payments", ("finance",)),
        Area("receivables", "Receivables and ageing", ("finance",)),
        Area("supply", "Stock forecasts, reorder points and purchase orders", ("warehouse",)),
        Area("audit", "The audit trail", ()),
    )
}


def staff_roles(tracker: Tracker) -> frozenset[str]:
    """The roles the gateway listed for the latest message's staff member; none for a
    customer, and none of anything that is not a known role name."""
    if not is_staff(tracker):
        return frozenset()
    roles = latest_metadata(tracker).get("roles")
    if not isinstance(roles, list):
        return frozenset()
    return frozenset(role for role in roles if isinstance(role, str) and role in KNOWN_ROLES)


def refusal(area: Area, roles: frozenset[str]) -> str:
    """Why ``roles`` may not read ``area``, naming the role that would."""
    needed = f"the {' or '.join(area.roles)} role (or admin)" if area.roles else "the admin role"
    held = ", ".join(sorted(roles)) if roles else "none"
    return (
        f"{area.what} {'is' if area.what.startswith('The ') else 'are'} for {needed}; "
        f"your roles: {held}. Ask a colleague who has it, or an admin to grant it to you."
    )


def staff_refusal(tracker: Tracker, area_name: str) -> str | None:
    """The refusal for a staff member whose roles do not cover ``area_name``; None for a
    customer (verification decides for them) or a staff member who may read it."""
    if not is_staff(tracker):
        return None
    area = AREAS[area_name]
    roles = staff_roles(tracker)
    return None if area.allows(roles) else refusal(area, roles)

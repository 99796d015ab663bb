"""What a staff member's roles let them see: one area per kind of record, one refusal text.

The gateway marks a staff member's message (``role: staff``) and lists their roles
(``roles``), set last in the metadata so no client can claim them; the roles come from the
configuration (Slack: ``SLACK_STAFF_ROLES``; the agent console: ``python -m connectors
agents grant``). Customers are not limited here: they see their own records after
verification.

Example:
    >>> refusal(AREAS["receivables"], frozenset({"sales"}))
    'Receivables and ageing are for the finance role (or admin); your roles: sales. Ask a ...'

The refusal is in the language of the conversation (i18n/messages/staff.yml): staff may
write Chinese in Slack.
"""

from __future__ import annotations

from dataclasses import dataclass

from rasa_sdk import Tracker

from actions.verification import is_staff, latest_metadata
from contracts.metadata import ADMIN, AREA_ROLES, listed_roles
from i18n.texts import current_language, say

KNOWN_ROLES = AREA_ROLES


@dataclass(frozen=True)
class Area:
    """A kind of ERP record and the roles that may read it (admin may read every area).

    What it holds, as staff read it, is the message ``staff.area.<name>``.
    """

    name: str
    roles: tuple[str, ...]

    def allows(self, roles: frozenset[str]) -> bool:
        """Whether any of ``roles`` may read this area."""
        return ADMIN in roles or bool(roles & set(self.roles))


AREAS = {
    area.name: area
    for area in (
        Area("orders", ("sales", "support")),
        Area("customers", ("sales",)),
        Area("invoices", ("finance",)),
        Area("receivables", ("finance",)),
        Area("supply", ("warehouse",)),
        Area("audit", ()),
    )
}


def staff_roles(tracker: Tracker) -> frozenset[str]:
    """The roles the gateway listed for the latest message's staff member; none for a
    customer, and none of anything that is not a known role name."""
    if not is_staff(tracker):
        return frozenset()
    roles = listed_roles(latest_metadata(tracker))
    return frozenset(role for role in roles if role in KNOWN_ROLES)


def refusal(area: Area, roles: frozenset[str]) -> str:
    """Why ``roles`` may not read ``area``, naming the role that would, in this turn's
    language."""
    if area.roles:
        needed = say("staff.needs_roles", roles=say("word.or").join(map(_role, area.roles)))
    else:
        needed = say("staff.needs_admin")
    separator = "、" if current_language() == "zh" else ", "
    held = separator.join(map(_role, sorted(roles))) if roles else say("staff.no_roles")
    return say("staff.refusal", what=say(f"staff.area.{area.name}"), needed=needed, held=held)


def _role(name: str) -> str:
    """A role's name as staff read it (the configured name; glossed in Chinese)."""
    return say(f"staff.role.{name}") if name in KNOWN_ROLES else name


def staff_refusal(tracker: Tracker, area_name: str) -> str | None:
    """The refusal for a staff member whose roles do not cover ``area_name``; None for a
    customer (verification decides for them) or a staff member who may read it."""
    if not is_staff(tracker):
        return None
    area = AREAS[area_name]
    roles = staff_roles(tracker)
    return None if area.allows(roles) else refusal(area, roles)

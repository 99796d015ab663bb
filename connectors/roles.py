"""Staff roles: what a staff member may see and do, the same names on Slack and the console.

"sales" customers and orders, "warehouse" stock, supply and forecasts, "finance" invoices
and receivables, "support" orders and the conversation analytics, "admin" everything
including the audit trail; "writer" may also change orders for customers (cancel, new
address, return). The action server decides what each role reads (actions/staff.py); the
gateway only says who holds which, from configuration (docs/staff.md).

Example:
    >>> sorted(parse_roles("finance+sales", where="SLACK_STAFF_ROLES"))
    ['finance', 'sales']
"""

from __future__ import annotations

from contracts.metadata import ADMIN, FINANCE, ROLE_NAMES, SALES, SUPPORT, WAREHOUSE, WRITER

ROLES = ROLE_NAMES
# What the older SLACK_STAFF_USER_IDS list gives: every record a customer has, read only
# (no audit trail), as it did before roles existed.
READ_ROLES = frozenset({SALES, WAREHOUSE, FINANCE, SUPPORT})


def parse_roles(text: str, *, where: str) -> frozenset[str]:
    """Role names joined by ``+``.

    Raises:
        ValueError: an empty list or a name that is not one of ROLES (``where`` says whose).
    """
    roles = frozenset(part.strip().lower() for part in text.split("+") if part.strip())
    unknown = sorted(roles - set(ROLES))
    if not roles or unknown:
        raise ValueError(
            f"{where}: {', '.join(unknown) or 'no role'} is not a role; the roles: "
            f"{', '.join(ROLES)}"
        )
    return roles


def may_change_orders(roles: frozenset[str] | set[str]) -> bool:
    """Whether these roles may change orders for customers (writer or admin)."""
    return bool({ADMIN, WRITER} & set(roles))

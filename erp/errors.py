"""The ERP layer's exception hierarchy; callers turn each into a user reply in one place."""

from __future__ import annotations


def _shorten(value: str, limit: int = 40) -> str:
    """Return ``value`` cut to ``limit`` characters so messages stay readable."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


class ErpError(Exception):
    """Base class for every error the ERP layer raises on purpose."""


class RecordNotFound(ErpError):
    """No record of ``kind`` exists under ``key``."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key} was found")
        self.kind = kind
        self.key = key


class NotKept(ErpError):
    """This company's ERP keeps no ``concept`` (its mapping declares it missing: ``reason``)."""

    def __init__(self, concept: str, reason: str) -> None:
        super().__init__(f"this ERP keeps no {concept.replace('_', ' ')}s: {reason}")
        self.concept = concept
        self.reason = reason


class AccessDenied(ErpError):
    """The record exists but belongs to another customer.

    The message deliberately reads like "not found", so it is safe to show to the user
    without revealing that the record exists.
    """

    def __init__(self, kind: str, key: str, *, customer_id: int | str) -> None:
        super().__init__(f"no {kind} {key} was found for this customer")
        self.kind = kind
        self.key = key
        self.customer_id = customer_id


class ErpUnavailable(ErpError):
    """The ERP database could not be reached or used; ``detail`` holds the driver's reason."""

    def __init__(self, detail: str, *, url: str | None = None) -> None:
        super().__init__("the ERP system is not reachable right now")
        self.detail = detail
        self.url = url


class InvalidIdentifier(ErpError, ValueError):
    """Text typed by a user is not a valid identifier of ``kind``; ``reason`` says why."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        shown = repr(_shorten(value)) if value.strip() else "an empty text"
        article = "an" if kind[:1] in ("a", "e", "i", "o", "u") else "a"
        super().__init__(f"{shown} is not {article} {kind}: {reason}")
        self.kind = kind
        self.value = value
        self.reason = reason


class WritesNotSupported(ErpError):
    """The assistant may not make this change in this company's ERP (its mapping declares no
    such write, or no write connection is configured): a colleague does it instead."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"the assistant cannot {kind.replace('_', ' ')} here: {reason}")
        self.kind = kind
        self.reason = reason


class StateError(ErpError):
    """The action server's own database (lockout counts, the audit trail) cannot be used."""


class StateSettingsError(StateError, ValueError):
    """``ACTIONS_STATE_DATABASE_URL`` cannot be used; the message names it (never its value,
    which may carry a password)."""


class StateUnavailable(StateError):
    """The action server's own database could not be reached or used: ``where`` names it (no
    password), ``detail`` holds the driver's reason."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"the action server's state database {where} cannot be used: {detail}")
        self.where = where
        self.detail = detail

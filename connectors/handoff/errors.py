"""The handoff package's exceptions; the agent console maps each to an HTTP status."""

from __future__ import annotations

from connectors.errors import GatewayError


class HandoffError(GatewayError):
    """Base class for every error the handoff queue raises on purpose."""


class HandoffNotFound(HandoffError):
    """No handoff has this id."""

    def __init__(self, handoff_id: int) -> None:
        super().__init__(f"no handoff with id {handoff_id}")
        self.handoff_id = handoff_id


class HandoffConflict(HandoffError):
    """The handoff is not in a state that allows this: claimed by another agent, or resolved."""

    def __init__(self, handoff_id: int, reason: str) -> None:
        super().__init__(f"handoff {handoff_id}: {reason}")
        self.handoff_id = handoff_id
        self.reason = reason


class InvalidHandoffInput(HandoffError, ValueError):
    """An agent name, reply text, score or configuration value that cannot be used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

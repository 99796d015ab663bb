"""The agents package's exceptions; the console maps each to an HTTP status in one place."""

from __future__ import annotations


class AgentError(Exception):
    """Base class for every error the agents package raises on purpose."""


class InvalidAgentInput(AgentError, ValueError):
    """A username, password or request field that cannot be used; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AgentExists(AgentError):
    """An agent with this username already exists."""

    def __init__(self, username: str) -> None:
        super().__init__(f"an agent named {username!r} already exists")
        self.username = username


class UnknownAgent(AgentError):
    """No agent has this username."""

    def __init__(self, username: str) -> None:
        super().__init__(f"no agent named {username!r}")
        self.username = username


class LoginFailed(AgentError):
    """Wrong username or password (deliberately not saying which)."""

    def __init__(self) -> None:
        super().__init__("wrong username or password")


class LoginThrottled(AgentError):
    """Too many failed logins for this account or from this client; retry later."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins, retry in {max(1, round(retry_after))} s")
        self.retry_after = retry_after


class LoginBusy(AgentError):
    """Too many password checks are running at once; retry in a moment (nothing was checked)."""

    def __init__(self, retry_after: float = 1.0) -> None:
        super().__init__("the login service is busy, retry in a moment")
        self.retry_after = retry_after


class Forbidden(AgentError):
    """The agent may not do this (another agent's canned reply, a company default ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Conflict(AgentError):
    """The request clashes with the handoff's current state (claimed by another agent ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(AgentError):
    """The handoff or canned reply asked for does not exist."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

"""The gateway's exception hierarchy; gateway.py maps each to an HTTP status in one place."""


class GatewayError(Exception):
    """Base class for every error the gateway raises on purpose."""


class InvalidMessage(GatewayError):
    """A channel sent input the gateway will not pass on; ``reason`` says what was wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BodyTooLarge(InvalidMessage):
    """The request body exceeded the size limit, so it was not parsed at all."""


class RasaUnavailable(GatewayError):
    """Rasa could not produce a reply: unreachable, timed out, or answered with an error."""

    def __init__(self, reason: str, *, url: str) -> None:
        super().__init__(f"{reason} ({url})")
        self.reason = reason
        self.url = url


class SettingsError(GatewayError, ValueError):
    """An environment variable held a value the gateway cannot use."""

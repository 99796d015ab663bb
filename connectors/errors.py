"""The gateway's exception hierarchy; gateway.py maps each to an HTTP status in one place.

A setting that cannot be used raises `envvars.SettingsError`, the one settings error of every
process."""


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

    def __init__(self, reason: str, *, url: str, unprocessed: bool = False) -> None:
        super().__init__(f"{reason} ({url})")
        self.reason = reason
        self.url = url
        # True when the request certainly did not reach a Rasa process (no connection, or the
        # balancer's 503 with no replica up): sending it again cannot apply it twice.
        self.unprocessed = unprocessed


class StoreUnavailable(GatewayError):
    """The gateway's database could not be reached or refused the statement (PostgreSQL
    restarting, a SQLite file locked or on a full disk): the message gets a clear
    "temporarily unavailable" instead of an answer."""


class RateLimited(GatewayError):
    """A sender went over the per-sender message rate; ``retry_after`` is in seconds."""

    def __init__(self, sender_id: str, retry_after: float) -> None:
        super().__init__(f"rate limit reached, retry after {retry_after:.1f} s")
        self.sender_id = sender_id
        self.retry_after = retry_after


class ChannelDeliveryFailed(GatewayError):
    """A reply could not be delivered to a channel's platform after every retry."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason


class Unauthorized(GatewayError):
    """A REST request without the credential its conversations need; ``status`` is 401
    (no or a wrong API key) or 403 (no keys configured and the caller is not local)."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status

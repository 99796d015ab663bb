"""The one internal message model every channel converts to and from, plus wire payload types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict


@dataclass(frozen=True, slots=True)
class Button:
    """A quick reply: ``title`` is shown to the user, ``payload`` is sent back when clicked."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file or image a user sent through a channel that supports them."""

    url: str
    mime_type: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class IncomingMessage:
    """A user's message after channel-specific parsing and validation.

    ``sender_id`` is the conversation id, stable across restarts and always derived from
    what the channel authenticated, never from a string the client chose alone:
    ``web:<conversation key>`` (from a signed session token), ``telegram:<chat id>`` (a
    private chat) or ``telegram:<chat id>:<user id>`` (one person in a group),
    ``slack:<team>:<user>`` (a DM, /erp) or ``slack:<team>:<channel>:<user>`` (one person in
    a channel), and ``rest:<api key name>:<sender id>`` (``rest:local:…`` without keys).

    ``client`` names who sent it for rate limits and lockouts (``ip:<addr>``,
    ``rest:<key name>``, ``telegram:user:<id>``, ``slack:<team>:<user>``); ``group`` is true
    when other people read the replies (a group chat, a Slack channel or thread).

    Example:
        >>> IncomingMessage(sender_id="rest:local:u-1", channel="rest", text="SKU-42?").channel
        'rest'
    """

    sender_id: str
    channel: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    # Set only by a channel that authenticates its users (Slack staff); never from input.
    staff: bool = False
    # Staff whose role may also change orders for customers; never from input.
    staff_writes: bool = False
    # The staff member's roles (connectors.roles), from configuration; never from input.
    staff_roles: frozenset[str] = frozenset()
    # Set by the channel from authenticated facts; never from input. Empty: the sender id.
    client: str = ""
    group: bool = False
    # What the transcript shows for this message: a clicked button's title, not its payload.
    shown: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """One bot reply; a channel renders whichever parts it supports."""

    text: str | None = None
    buttons: list[Button] = field(default_factory=list)
    image: str | None = None
    custom: dict[str, Any] | None = None


# Rasa's replies on its REST channel (the request is contracts.metadata.RasaRequest).


class RasaButton(TypedDict, total=False):
    title: str
    payload: str


class RasaReply(TypedDict, total=False):
    recipient_id: str
    text: str
    buttons: list[RasaButton]
    image: str
    custom: dict[str, Any]


# The gateway's own REST API (POST /api/messages, GET /healthz).


class RestRequest(TypedDict):
    sender_id: str
    text: str
    metadata: NotRequired[dict[str, Any]]


class RestButton(TypedDict):
    title: str
    payload: str


class RestMessage(TypedDict):
    text: str | None
    buttons: list[RestButton]
    image: NotRequired[str]
    custom: NotRequired[dict[str, Any]]


class RestReply(TypedDict):
    messages: list[RestMessage]


class RestError(TypedDict):
    error: str


CheckResult = Literal["ok", "down", "timeout"]


class HealthReport(TypedDict):
    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckResult]
    down: NotRequired[list[str]]


def rest_message(message: OutgoingMessage) -> RestMessage:
    """One reply as the gateway's REST JSON (POST /api/messages, the console's Ask panel)."""
    rest: RestMessage = {
        "text": message.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in message.buttons],
    }
    if message.image is not None:
        rest["image"] = message.image
    if message.custom is not None:
        rest["custom"] = message.custom
    return rest

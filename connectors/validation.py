"""Validation of input arriving at the gateway's edge: every check on user input lives here,
and the check of who a REST caller is (its API key, or a loopback address)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import ipaddress
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from connectors.errors import BodyTooLarge, InvalidMessage, Unauthorized
from connectors.messages import IncomingMessage
from connectors.settings import ApiKey

MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 2000
MAX_SENDER_ID_CHARS = 128

# C0 and C1 control characters (category Cc) except tab and newline. Format characters
# (zero-width joiners, bidi marks) are left alone: they are legitimate in many scripts.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def parse_rest_message(
    body: bytes | str, *, max_chars: int = MAX_MESSAGE_CHARS, channel: str = "rest"
) -> IncomingMessage:
    """Parse and validate a REST body ``{"sender_id", "text", "metadata"?}``.

    Text is cleaned before it is measured: CRLF becomes LF, control characters other than
    newline and tab are dropped, the result is NFC-normalised and stripped.

    Args:
        body: the raw request body.
        max_chars: the longest accepted text, counted in characters (code points).
        channel: the channel name recorded on the message.

    Returns:
        The validated message.

    Raises:
        InvalidMessage: the body is not acceptable; ``reason`` says why.
        BodyTooLarge: the body is larger than MAX_BODY_BYTES.
    """
    if len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"body is larger than {MAX_BODY_BYTES} bytes")
    payload = _load_json_object(body)
    sender_id = _sender_id(payload.get("sender_id"))
    text = _text(payload.get("text"), max_chars=max_chars)
    metadata = payload.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise InvalidMessage(f"metadata must be an object, got {_json_type(metadata)}")
    return IncomingMessage(sender_id=sender_id, channel=channel, text=text, metadata=metadata)


# Characters Rasa's HTTP API takes as they are in a conversation's URL path: its router
# (Sanic) does not percent-decode path parameters, so an id with any other character would
# name a different tracker there than in the channel webhook's JSON body.
_PATH_SAFE = re.compile(r"[A-Za-z0-9._~@:-]+")
PATH_SAFE_CHARS = "._~@:-"


def path_safe(sender: str) -> str:
    """``sender`` itself when it is URL-path safe, else ``h-`` and a digest of it (stable).

    Example:
        >>> path_safe("u-1"), path_safe("jane doe/1")
        ('u-1', 'h-11970099c228342126f8999d4de11f6a')
    """
    if _PATH_SAFE.fullmatch(sender):
        return sender
    return "h-" + hashlib.sha256(sender.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class RestCaller:
    """Who a REST request comes from, established by its credential, never by its body.

    ``key_name`` is the API key's name (``local`` for a loopback caller when no key is
    configured); every conversation of the caller lives under ``rest:<key_name>:``, so no
    sender id it sends can name a web, Telegram, Slack or another key's conversation.

    Example:
        >>> RestCaller("shop", "rest:shop").conversation("web:abc")
        'rest:shop:web:abc'
    """

    key_name: str
    client: str

    def conversation(self, sender: str) -> str:
        return f"rest:{self.key_name}:{path_safe(sender)}"

    def message(self, message: IncomingMessage) -> IncomingMessage:
        """The parsed message moved into this caller's namespace, with its client set."""
        return dataclasses.replace(
            message, sender_id=self.conversation(message.sender_id), client=self.client
        )


def rest_caller(request: Request, keys: Sequence[ApiKey]) -> RestCaller:
    """Authenticate a REST request: ``Authorization: Bearer <secret>`` when keys are set,
    else a loopback peer (the embedded demo). The peer is the connection's address, or what
    X-Forwarded-For says when the connection comes from TRUSTED_PROXIES (uvicorn's proxy
    middleware).

    Raises:
        Unauthorized: 401 for a missing or wrong key, 403 for a non-loopback caller
            when no key is configured; ``reason`` says which.
    """
    if keys:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("an API key is required: Authorization: Bearer <key>", status=401)
        token = given.strip().encode()
        # Every key is compared, so the time taken does not tell which one came close.
        matches = [k for k in keys if hmac.compare_digest(token, k.secret.encode())]
        if not matches:
            raise Unauthorized("the API key is not valid", status=401)
        return RestCaller(matches[0].name, f"rest:{matches[0].name}")
    host = request.client.host if request.client is not None else ""
    if not is_loopback(host):
        raise Unauthorized(
            "the REST API answers only local clients when GATEWAY_API_KEYS is not set",
            status=403,
        )
    return RestCaller("local", f"ip:{host}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1, or IPv4-mapped 127.x)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


async def read_body(request: Request, *, limit: int = MAX_BODY_BYTES) -> bytes:
    """Read a request body, refusing it as soon as it passes ``limit`` bytes rather than after.

    Raises:
        BodyTooLarge: the declared or streamed body is larger than ``limit``.
    """
    too_large = BodyTooLarge(f"body is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def load_json_object(body: bytes | str) -> dict[str, Any]:
    """Decode a body that must be one JSON object (not NaN, not nested past recursion).

    Raises:
        InvalidMessage: the body is not a JSON object.
    """
    return _load_json_object(body)


def clean_text(text: str) -> str:
    """Normalise user text: LF line endings, no control characters, NFC, no outer whitespace."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_CHARS.sub("", text)
    return unicodedata.normalize("NFC", text).strip()


def _load_json_object(body: bytes | str) -> dict[str, Any]:
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers malformed JSON, undecodable bytes and NaN/Infinity.
        raise InvalidMessage("body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise InvalidMessage(f"body must be a JSON object, got {_json_type(payload)}")
    return payload


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def sender_id(value: object) -> str:
    """A REST sender id, checked like the one in a POST body (InvalidMessage if unusable)."""
    return _sender_id(value)


def _sender_id(value: object) -> str:
    if value is None:
        raise InvalidMessage("sender_id is required")
    if not isinstance(value, str):
        raise InvalidMessage(f"sender_id must be a string, got {_json_type(value)}")
    if not value.strip():
        raise InvalidMessage("sender_id must not be empty")
    if len(value) > MAX_SENDER_ID_CHARS:
        raise InvalidMessage(
            f"sender_id is longer than {MAX_SENDER_ID_CHARS} characters ({len(value)})"
        )
    if _CONTROL_CHARS.search(value) or "\n" in value or "\t" in value or _SURROGATE.search(value):
        raise InvalidMessage("sender_id must not contain control characters or invalid unicode")
    return value


def _text(value: object, *, max_chars: int) -> str:
    if value is None:
        raise InvalidMessage("text is required")
    if not isinstance(value, str):
        raise InvalidMessage(f"text must be a string, got {_json_type(value)}")
    if _SURROGATE.search(value):
        raise InvalidMessage("text contains invalid unicode (an unpaired surrogate)")
    text = clean_text(value)
    if not text:
        raise InvalidMessage("text must not be empty")
    if len(text) > max_chars:
        raise InvalidMessage(f"text is longer than {max_chars} characters ({len(text)})")
    return text


def _json_type(value: object) -> str:
    """Name a decoded JSON value's type the way a JSON client would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__

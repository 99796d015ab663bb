"""Proof that a conversation verified a customer: a signed record the client cannot write.

The action server signs a `Verification` with a secret only the assistant's own processes
hold (``VERIFICATION_SECRET``) and keeps the token in a tracker slot. Whoever reads it back
(an action, the gateway's handoff summary) checks the signature, the conversation it was
issued to and its expiry; a forged, edited, replayed (other conversation) or expired token
reads as "not verified". Nothing a client sends can produce one.

Example:
    >>> secret = b"k" * 32
    >>> token = sign_verification(
    ...     Verification("web:abc", 42, frozenset({"postcode"}), frozenset({"SO-100123"}), 2e9),
    ...     secret=secret,
    ... )
    >>> read_verification(token, secret=secret, conversation_id="web:abc", now=1e9).customer_id
    42
    >>> read_verification(token, secret=secret, conversation_id="web:other", now=1e9) is None
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

from erp.settings import VERIFICATION_SECRET

logger = logging.getLogger("erp")

TOKEN_VERSION = 1
MAX_TOKEN_CHARS = 4096
DEFAULT_TTL_S = 3600.0
# A customer's key in the ERP, as its table holds it.
CustomerKey = int | str
# The factors a customer can prove; "staff" marks a lookup by a known staff member.
EMAIL, POSTCODE, STAFF = "email", "postcode", "staff"


@dataclass(frozen=True)
class Verification:
    """Who a conversation proved to be, with which factors, for which records, until when.

    ``records`` are the order and invoice numbers this conversation asked about and that
    belong to ``customer_id`` (checked when they were added). ``customer_id`` is the
    customer's key in the ERP: an integer in most schemas, text in some (Northwind's VINET).
    """

    conversation_id: str
    customer_id: CustomerKey
    factors: frozenset[str]
    records: frozenset[str] = field(default_factory=frozenset)
    expires_at: float = 0.0

    def has(self, *factors: str) -> bool:
        """True when every named factor was proven (staff count as all of them)."""
        return STAFF in self.factors or all(f in self.factors for f in factors)

    def adding(
        self, *, factors: Iterable[str] = (), records: Iterable[str] = (), expires_at: float
    ) -> Verification:
        """A copy with more factors or records and a new expiry (same customer)."""
        return replace(
            self,
            factors=self.factors | frozenset(factors),
            records=self.records | frozenset(records),
            expires_at=expires_at,
        )


def sign_verification(verification: Verification, *, secret: bytes) -> str:
    """The record as ``<payload>.<signature>``, both base64url, HMAC-SHA256 over the payload."""
    payload = {
        "v": TOKEN_VERSION,
        "c": verification.conversation_id,
        "u": verification.customer_id,
        "f": sorted(verification.factors),
        "r": sorted(verification.records),
        "e": round(verification.expires_at, 3),
    }
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_mac(secret, body))}"


def read_verification(
    token: object, *, secret: bytes, conversation_id: str, now: float
) -> Verification | None:
    """The verification a token proves for ``conversation_id`` at ``now``, or None.

    None for anything that is not a token this secret signed for this conversation and
    that has not expired: a missing slot, a forged or edited token, another
    conversation's token, an expired one, or garbage of any type. Never raises.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    body, dot, signature = token.partition(".")
    if not dot:
        return None
    try:
        given = _unb64(signature)
        if not hmac.compare_digest(given, _mac(secret, body)):
            return None
        payload = json.loads(_unb64(body))
        verification = _from_payload(payload)
    except (ValueError, TypeError, KeyError):
        return None
    if verification.conversation_id != conversation_id or verification.expires_at <= now:
        return None
    return verification


def verification_secret(environ: Mapping[str, str] | None = None) -> bytes:
    """The signing secret from ``VERIFICATION_SECRET``; a per-process random one without it.

    `make run` sets it for every process (bot/secrets), so the action server and the
    gateway share it and verification survives restarts. A process started alone gets a
    random secret: verification then lasts as long as that process, and nothing is weaker.

    Raises:
        SettingsError: it is shorter than 16 characters.
    """
    value = VERIFICATION_SECRET.current() if environ is None else VERIFICATION_SECRET.read(environ)
    if value:
        return value.encode()
    return _process_secret()


@lru_cache(maxsize=1)
def _process_secret() -> bytes:
    logger.warning(
        "%s is not set: verification lasts only while this process runs", VERIFICATION_SECRET.name
    )
    return secrets.token_bytes(32)


def _from_payload(payload: object) -> Verification:
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION:
        raise ValueError("not a verification payload of this version")
    conversation, customer = payload["c"], payload["u"]
    factors, records, expires = payload["f"], payload["r"], payload["e"]
    if not isinstance(conversation, str) or type(customer) not in (int, str) or customer == "":
        raise TypeError("bad conversation or customer")
    if not all(isinstance(x, str) for x in [*factors, *records]):
        raise TypeError("bad factors or records")
    if not isinstance(expires, int | float):
        raise TypeError("bad expiry")
    return Verification(
        conversation, customer, frozenset(factors), frozenset(records), float(expires)
    )


def _mac(secret: bytes, body: str) -> bytes:
    return hmac.new(secret, b"verification:" + body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

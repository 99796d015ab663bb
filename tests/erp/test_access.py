"""Signed verification records: only the secret's holder can make one, for one conversation."""

from __future__ import annotations

import base64
import json

import pytest

from erp.access import (
    EMAIL,
    POSTCODE,
    STAFF,
    Verification,
    read_verification,
    sign_verification,
    verification_secret,
)

SECRET = b"s" * 32
NOW = 1_000_000.0


def record(**changes: object) -> Verification:
    values: dict[str, object] = {
        "conversation_id": "web:abc",
        "customer_id": 42,
        "factors": frozenset({POSTCODE}),
        "records": frozenset({"SO-100123"}),
        "expires_at": NOW + 60,
    }
    values.update(changes)
    return Verification(**values)  # type: ignore[arg-type]


def read(token: object, conversation: str = "web:abc", now: float = NOW) -> Verification | None:
    return read_verification(token, secret=SECRET, conversation_id=conversation, now=now)


def test_round_trip_keeps_every_field() -> None:
    original = record(factors=frozenset({EMAIL, POSTCODE}))
    assert read(sign_verification(original, secret=SECRET)) == original


def test_other_conversation_expired_or_other_secret_reads_as_unverified() -> None:
    token = sign_verification(record(), secret=SECRET)
    assert read(token, conversation="web:other") is None
    assert read(token, now=NOW + 61) is None
    other = sign_verification(record(), secret=b"t" * 32)
    assert read(other) is None


def _tamper(token: str, **payload_changes: object) -> str:
    body, _, signature = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(payload_changes)
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + signature


@pytest.mark.parametrize(
    "changes",
    [{"u": 7}, {"f": ["email", "postcode"]}, {"r": ["SO-100999"]}, {"e": NOW + 10**6}],
    ids=["customer", "factors", "records", "expiry"],
)
def test_an_edited_payload_is_refused(changes: dict[str, object]) -> None:
    token = sign_verification(record(), secret=SECRET)
    assert read(_tamper(token, **changes)) is None


@pytest.mark.parametrize(
    "garbage",
    [None, 42, "", "verified", ".", "a.b", "x" * 5000, ["token"], "ä.ö", "=.=", "e30.e30"],
    ids=["none", "int", "empty", "word", "dot", "short", "long", "list", "unicode", "pad", "{}"],
)
def test_garbage_reads_as_unverified_and_never_raises(garbage: object) -> None:
    assert read(garbage) is None


def test_a_signed_payload_of_the_wrong_shape_is_refused() -> None:
    import hashlib
    import hmac

    shape = {"v": 1, "c": "web:abc", "f": [], "r": [], "e": 2e6}
    for payload in ({"v": 1}, *({**shape, "u": u} for u in (True, [42], None, "", 4.2))):
        raw = json.dumps(payload).encode()
        body = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        mac = hmac.new(SECRET, b"verification:" + body.encode(), hashlib.sha256).digest()
        token = body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        assert read(token) is None


def test_a_text_customer_key_round_trips() -> None:
    # Some ERPs key customers by text (Northwind's VINET); the key keeps its type.
    northwind = record(customer_id="VINET")
    token = sign_verification(northwind, secret=SECRET)
    proof = read_verification(token, secret=SECRET, conversation_id="web:abc", now=NOW)
    assert proof is not None and proof.customer_id == "VINET"


def test_factors_and_staff() -> None:
    one = record()
    assert one.has(POSTCODE) and not one.has(EMAIL, POSTCODE)
    both = one.adding(factors={EMAIL}, records={"INV-200045"}, expires_at=NOW + 120)
    assert both.has(EMAIL, POSTCODE) and both.records == {"SO-100123", "INV-200045"}
    assert record(factors=frozenset({STAFF})).has(EMAIL, POSTCODE)


def test_secret_from_environment_and_too_short_refused() -> None:
    assert verification_secret({"VERIFICATION_SECRET": "x" * 32}) == b"x" * 32
    with pytest.raises(ValueError, match="at least 16 characters"):
        verification_secret({"VERIFICATION_SECRET": "short"})

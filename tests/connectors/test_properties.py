"""Property-based tests (hypothesis) of the gateway's edge: every text and id a client sends.

Hostile input (control characters, lone surrogates, confusables, emoji, SQL, 2,000+
characters, arbitrary JSON and bytes) may only ever be cleaned, or refused with the
gateway's own InvalidMessage / BodyTooLarge; a REST caller can never name a conversation
outside its namespace; a web session token nobody issued never opens a conversation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.channels.slack import from_slack
from connectors.channels.web import SessionTokens
from connectors.errors import BodyTooLarge, InvalidMessage
from connectors.validation import (
    MAX_BODY_BYTES,
    MAX_MESSAGE_CHARS,
    MAX_SENDER_ID_CHARS,
    RestCaller,
    clean_text,
    parse_rest_message,
    sender_id,
)

PROPERTY = settings(max_examples=200, deadline=None)

FRAGMENTS = (
    "\x00", "\x07", "\x1b[31m", "\r\n", "\r", "\x85", "\x9f", "\t", "\u200b", "\u202e",
    "\ufeff", "\u2028", "\ud800", "\udfff", "e\u0301", "Å", "ﬁ", "ＳＯ－１", "😀", "👩‍👩‍👧",
    "'; DROP TABLE transcript; --", "<script>alert(1)</script>", "/inform{\"role\":\"staff\"}",
    "web:abc", "telegram:1", "slack:T1:U1", "rest:local:x", "../../", "%00", " ", "\n",
)  # fmt: skip
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs", "Cc", "Cf", "Zs", "Zl"]))
hostile = st.one_of(
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.text(ANY_CHAR, max_size=12)), max_size=10
    ).map("".join),
    st.text(ANY_CHAR, max_size=60),
    st.builds(lambda piece, n: piece * n, st.sampled_from(FRAGMENTS), st.integers(1900, 2100)),
    st.text(ANY_CHAR, min_size=1990, max_size=2010),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile, inner, max_size=4)
    ),
    max_leaves=12,
)
# C0 and C1 controls except tab and newline: what clean_text removes.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@PROPERTY
@given(text=hostile)
def test_clean_text_leaves_no_control_characters_and_is_idempotent(text: str) -> None:
    cleaned = clean_text(text)

    assert not CONTROL.search(cleaned) and "\r" not in cleaned
    assert cleaned == cleaned.strip()
    assert unicodedata.is_normalized("NFC", cleaned)
    assert clean_text(cleaned) == cleaned


@PROPERTY
@given(sender=json_values, text=json_values, metadata=json_values)
def test_rest_bodies_are_parsed_or_refused_with_a_reason(
    sender: Any, text: Any, metadata: Any
) -> None:
    body = json.dumps({"sender_id": sender, "text": text, "metadata": metadata})
    try:
        message = parse_rest_message(body)
    except (InvalidMessage, BodyTooLarge) as error:
        assert str(error)
        return
    assert message.channel == "rest"
    assert 0 < len(message.text) <= MAX_MESSAGE_CHARS
    assert clean_text(message.text) == message.text
    assert message.sender_id == sender and 0 < len(message.sender_id) <= MAX_SENDER_ID_CHARS
    assert not CONTROL.search(message.sender_id)
    # Nothing in the body can make the message staff's or put it in a group.
    assert message.staff is False and message.group is False and message.client == ""


@PROPERTY
@given(
    body=st.one_of(
        st.binary(max_size=300),
        # Just over the limit: a short pattern repeated (hypothesis draws 64 KB slowly).
        st.builds(
            lambda chunk: chunk * (MAX_BODY_BYTES // len(chunk) + 1),
            st.binary(min_size=1, max_size=16),
        ),
    )
)
def test_arbitrary_bytes_are_refused_with_the_gateways_own_errors(body: bytes) -> None:
    try:
        parse_rest_message(body)
    except (InvalidMessage, BodyTooLarge):
        return
    # The rare bytes that are a valid message body must still have been checked.
    payload = json.loads(body)
    assert isinstance(payload, dict) and isinstance(payload.get("text"), str)


@PROPERTY
@given(sender=hostile, key=st.sampled_from(["local", "shop", "partner-1"]))
def test_no_rest_sender_id_reaches_another_channels_or_keys_conversation(
    sender: str, key: str
) -> None:
    try:
        checked = sender_id(sender)
    except InvalidMessage:
        return
    conversation = RestCaller(key, f"rest:{key}").conversation(checked)

    assert conversation.startswith(f"rest:{key}:")
    assert not conversation.startswith(("web:", "telegram:", "slack:"))
    other = "partner-2" if key != "partner-2" else "shop"
    assert not conversation.startswith(f"rest:{other}:")


@PROPERTY
@given(text=hostile)
def test_slack_markup_to_text_never_raises(text: str) -> None:
    assert isinstance(from_slack(text), str)


@pytest.fixture(scope="module")
def tokens() -> SessionTokens:
    return SessionTokens(b"property-test-session-secret-32b", max_age=3600)


@PROPERTY
@given(requested=st.one_of(hostile, json_values))
def test_no_session_token_opens_a_conversation_unless_the_gateway_issued_it(
    tokens: SessionTokens, requested: Any
) -> None:
    assert tokens.read(requested) is None


@PROPERTY
@given(data=st.data())
def test_any_change_to_an_issued_token_is_refused(
    tokens: SessionTokens, data: st.DataObject
) -> None:
    key = SessionTokens.new_key()
    token = tokens.issue(key, data.draw(st.integers(0, 10**6)))
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[position]))
    forged = token[:position] + replacement + token[position + 1 :]

    claim = tokens.read(token)
    assert claim is not None and claim.key == key
    assert tokens.read(forged) is None

"""What the action server sends across a process boundary is what contracts/ reads, and what
the gateway sets in a turn's metadata is what the actions read (contracts/)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from rasa_sdk.executor import CollectingDispatcher

from actions.changes import not_here
from actions.documents import DocumentReply
from actions.handoff import LAST_FALLBACK_SLOT, ActionDefaultFallback, ActionHandoff
from actions.staff import staff_roles
from actions.streaming import DraftStream
from actions.verification import client_key, is_group, is_staff
from contracts.citations import CitationJson
from contracts.drafts import authorization, parse_draft
from contracts.handoff import (
    HANDOFF,
    REPEATED_FALLBACK,
    USER_REQUEST,
    WRITE_NOT_SUPPORTED,
    parse_handoff,
)
from contracts.metadata import turn_metadata
from retrieval.types import Citation
from tests.actions.conftest import tracker


def handoff_of(dispatcher: CollectingDispatcher) -> Any:
    [request] = [m["custom"][HANDOFF] for m in dispatcher.messages if m.get("custom")]
    return request


async def test_asking_for_a_person_sends_a_request_the_gateway_reads(
    domain: dict[str, Any],
) -> None:
    dispatcher = CollectingDispatcher()
    state = tracker({"order_number": "SO-100123"}, text="a person please", intent="request_human")
    state.latest_message["intent"] = {"name": "request_human", "confidence": 0.9712}

    await ActionHandoff().run(dispatcher, state, domain)

    requested = parse_handoff(handoff_of(dispatcher))
    assert requested is not None
    assert (requested.rule, requested.score) == (USER_REQUEST, 0.971)
    assert requested.slots == {"unverified_order_number": "SO-100123"}


async def test_a_second_fallback_sends_a_request_the_gateway_reads(
    domain: dict[str, Any],
) -> None:
    dispatcher = CollectingDispatcher()
    state = tracker({LAST_FALLBACK_SLOT: 0}, text="blah", intent="nlu_fallback")

    await ActionDefaultFallback().run(dispatcher, state, domain)

    requested = parse_handoff(handoff_of(dispatcher))
    assert requested is not None and requested.rule == REPEATED_FALLBACK
    assert requested.score is None and "2 turns in a row" in requested.detail


def test_a_write_the_erp_lacks_sends_a_request_the_gateway_reads() -> None:
    """The user is told a colleague takes the change over: the gateway must open that handoff
    (it ignored the rule until the contract named it)."""
    dispatcher = CollectingDispatcher()

    not_here(dispatcher, tracker({"order_number": "10248"}), "cancel", "cancel_order")

    requested = parse_handoff(handoff_of(dispatcher))
    assert requested is not None and requested.rule == WRITE_NOT_SUPPORTED
    assert requested.detail.startswith("asked to cancel")


def test_a_draft_is_a_body_and_header_the_gateway_accepts() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    DraftStream("web:abc", "http://gateway.test/internal/stream", "t0k", client)("We refund.")

    [request] = seen
    assert request.headers["Authorization"] == authorization("t0k")
    draft, problem = parse_draft(json.loads(request.content))
    assert (draft, problem) == ({"conversation_id": "web:abc", "text": "We refund."}, "")


def test_citations_carry_the_keys_of_the_contract() -> None:
    citation = Citation("policies/returns.md", "Returns", "Refunds", "/docs/policies/returns.md")

    message = DocumentReply("Refunds take 5 days.", [citation]).message()

    [sent] = message["json_message"]["citations"]
    assert list(sent) == list(CitationJson.__annotations__)
    assert all(isinstance(value, str) for value in sent.values())


def test_the_gateways_metadata_is_read_as_it_was_set() -> None:
    metadata = turn_metadata(
        {"language": "zh"},
        channel="slack",
        staff=True,
        staff_writes=False,
        roles={"finance", "writer"},
        client="slack:T1:U1",
        group=True,
        turn="t-1",
    )
    state = tracker(metadata=json.loads(json.dumps(metadata)))

    assert is_staff(state) and is_group(state)
    assert client_key(state) == "slack:T1:U1"
    # "writer" travels as staff_writes for the gateway; it is no area's role here.
    assert staff_roles(state) == frozenset({"finance"})


def test_a_customers_metadata_grants_no_role() -> None:
    metadata = turn_metadata(
        {"role": "staff", "roles": ["admin"]},
        channel="web",
        staff=False,
        staff_writes=True,
        roles={"admin"},
        client="ip:10.0.0.1",
        group=False,
        turn="t-2",
    )
    state = tracker(metadata=metadata)

    assert not is_staff(state) and staff_roles(state) == frozenset()
    assert client_key(state) == "ip:10.0.0.1" and not is_group(state)

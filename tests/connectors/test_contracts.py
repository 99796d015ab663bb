"""The gateway reads what contracts/ builds for the action server, and sends Rasa the turn
metadata contracts/ describes (the action server's side: tests/actions/test_contracts.py)."""

from __future__ import annotations

import json

import httpx
from starlette.applications import Starlette

from connectors.handoff.queue import Trigger
from connectors.handoff.triggers import USER_REQUEST_PRIORITY, from_replies
from connectors.messages import IncomingMessage, OutgoingMessage, rest_message
from connectors.rasa_client import RasaClient, to_outgoing
from connectors.streaming import stream_route
from contracts.citations import citations_message
from contracts.drafts import STREAM_PATH, authorization, draft
from contracts.handoff import USER_REQUEST, WRITE_NOT_SUPPORTED, handoff_message
from contracts.metadata import TURN, is_staff, listed_roles, may_write, turn_metadata
from retrieval.types import Citation


async def test_rasa_gets_the_metadata_the_contract_builds() -> None:
    seen: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(200, json=[{"text": "ok"}])

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    rasa = RasaClient(http, base_url="http://rasa.test", token="t")
    message = IncomingMessage(
        "slack:T1:U1",
        "slack",
        "ageing",
        metadata={"role": "customer"},
        staff=True,
        staff_writes=True,
        staff_roles=frozenset({"sales"}),
        client="slack:T1:U1",
    )

    await rasa.send(message)

    sent = json.loads(seen[0])["metadata"]
    expected = turn_metadata(
        {"role": "customer"},
        channel="slack",
        staff=True,
        staff_writes=True,
        roles={"sales"},
        client="slack:T1:U1",
        group=False,
        turn=sent[TURN],
    )
    assert list(sent.items()) == list(expected.items())
    assert is_staff(sent) and may_write(sent) and listed_roles(sent) == ["sales"]


def test_the_gateway_opens_the_handoff_the_contract_builds() -> None:
    request = handoff_message(USER_REQUEST, 0.97, "asked for a person", {"sku": "WID-1001"})
    reply = to_outgoing({"recipient_id": "u", "custom": request})
    assert reply is not None

    escalation, kept = from_replies([OutgoingMessage(text="One moment."), reply])

    assert escalation is not None and kept == [OutgoingMessage(text="One moment.")]
    assert escalation.trigger == Trigger(USER_REQUEST, 0.97, "asked for a person")
    assert (escalation.priority, escalation.slots) == (USER_REQUEST_PRIORITY, {"sku": "WID-1001"})


def test_a_change_the_erp_lacks_opens_a_handoff_like_asking_for_a_person() -> None:
    """The user was told a colleague takes the change over (actions/changes.py)."""
    request = handoff_message(WRITE_NOT_SUPPORTED, None, "asked to cancel order 10248", {})

    escalation, _ = from_replies([OutgoingMessage(text="A colleague will.", custom=dict(request))])

    assert escalation is not None and escalation.priority == USER_REQUEST_PRIORITY
    assert escalation.trigger == Trigger(WRITE_NOT_SUPPORTED, None, "asked to cancel order 10248")


def test_a_malformed_handoff_is_ignored_and_its_text_kept() -> None:
    request = handoff_message("made_up_rule", None, "asked to cancel", {})
    reply = OutgoingMessage(text="A colleague will help.", custom=dict(request))

    escalation, kept = from_replies([reply])

    assert escalation is None and kept == [OutgoingMessage(text="A colleague will help.")]


async def test_the_gateway_shows_the_draft_the_contract_builds() -> None:
    shown: list[tuple[str, str]] = []

    async def sink(conversation_id: str, text: str) -> bool:
        shown.append((conversation_id, text))
        return True

    app = Starlette(routes=[stream_route("t0k", sink)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw.test"
    ) as client:
        response = await client.post(
            STREAM_PATH,
            json=draft("web:abc", "We refund returns."),
            headers={"Authorization": authorization("t0k")},
        )

    assert response.status_code == 204
    assert shown == [("web:abc", "We refund returns.")]


def test_citations_reach_rest_clients_unchanged() -> None:
    citation = Citation("policies/returns.md", "Returns", "Refunds", "/docs/policies/returns.md")
    message = citations_message([citation])

    reply = to_outgoing({"recipient_id": "u", "custom": json.loads(json.dumps(message))})

    assert reply is not None and rest_message(reply)["custom"] == message

"""The console's Ask panel: a logged-in agent talks to the assistant as staff.

It takes the same turn path as a Slack staff member's message (`connectors.turns.Turns`:
limits, transcript, handoff triggers, Rasa). The conversation is ``console:<username>``; the
agent is staff (no customer verification) with the roles granted to their account
(`connectors.roles`, read at every message, so a revoke counts at once): what they may read
(sales: orders, finance: invoices and receivables, warehouse: supply and forecasts, admin:
everything) and whether they may change orders for customers (writer or admin). The audit
trail records their reads and writes as ``staff:console:<username>``.
Who is asking comes from the session, never from the request body.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.agents.auth import AgentAuth, AgentSession
from connectors.agents.errors import InvalidAgentInput
from connectors.charts import with_chart
from connectors.errors import RasaUnavailable, RateLimited
from connectors.messages import IncomingMessage
from connectors.roles import may_change_orders
from connectors.turns import Turns, user_notice
from connectors.validation import load_json_object, read_body

CHANNEL = "console"


def conversation_of(username: str) -> str:
    """The Ask panel's conversation of one agent.

    Example:
        >>> conversation_of("erin")
        'console:erin'
    """
    return f"{CHANNEL}:{username}"


class ConsoleAsk:
    """POST /agent/api/ask ``{text}`` sends one message; GET /agent/api/ask reads the
    conversation back (the page shows it from there, so a reload keeps it).

    Example:
        >>> ask = ConsoleAsk(auth, turns)
        >>> console = AgentConsole(auth, queue, canned, ask=ask)  # adds the two routes
    """

    def __init__(self, auth: AgentAuth, turns: Turns) -> None:
        self.auth = auth
        self.turns = turns

    async def send(self, request: Request, session: AgentSession) -> Response:
        """One message from the agent; the answer is the assistant's replies (agent replies
        from a colleague that were waiting come first; a chart under ``chart``), 429 or 503
        with the reason when the assistant cannot answer now."""
        body = load_json_object(await read_body(request))
        text = body.get("text")
        if not isinstance(text, str):
            raise InvalidAgentInput("text must be a string")
        roles = frozenset(await anyio.to_thread.run_sync(self.auth.roles, session.username))
        conversation = conversation_of(session.username)
        message = IncomingMessage(
            sender_id=conversation,
            channel=CHANNEL,
            text=text,
            staff=True,
            staff_writes=may_change_orders(roles),
            staff_roles=roles,
            client=conversation,
        )
        try:
            replies = await self.turns.handle(message)  # InvalidMessage: 400 from the console
        except RateLimited as error:
            seconds = str(max(1, round(error.retry_after)))
            return JSONResponse(
                {"error": user_notice(error)}, status_code=429, headers={"Retry-After": seconds}
            )
        except RasaUnavailable as error:
            return JSONResponse({"error": user_notice(error)}, status_code=503)
        if self.turns.queue is not None:
            replies = [*await self.turns.queue.delivery.take(conversation), *replies]
        # A chart comes checked, as a data URL the page shows (its transcript keeps a line).
        return JSONResponse({"messages": [with_chart(reply) for reply in replies]})

    async def history(self, request: Request, session: AgentSession) -> Response:
        """The agent's Ask conversation, oldest first, with the roles it is asked with; a
        colleague's replies waiting for it count as delivered once read here."""
        conversation = conversation_of(session.username)
        delivery = self.turns.queue.delivery if self.turns.queue is not None else None
        mark = await delivery.newest(conversation) if delivery is not None else 0
        transcript = await self.turns.store.history(conversation)
        if delivery is not None:
            await delivery.mark_delivered(conversation, up_to=mark)
        roles = await anyio.to_thread.run_sync(self.auth.roles, session.username)
        return JSONResponse(
            {
                "conversation": conversation,
                "roles": roles,
                "may_change_orders": may_change_orders(set(roles)),
                "transcript": transcript,
            }
        )

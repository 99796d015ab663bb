"""The console's Ask panel: a logged-in agent talks to the assistant as staff.

It takes the same turn path as a Slack staff member's message (`connectors.turns.Turns`:
limits, transcript, handoff triggers, Rasa). The conversation is ``console:<username>``; the
agent is staff (any customer's records, no verification), and may change orders for
customers when their roles allow it (writer or admin, read at every message, so a revoke
counts at once); the audit trail records those reads and writes as ``staff:console:<username>``.
Who is asking comes from the session, never from the request body.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from connectors.agents.auth import AgentAuth, AgentSession
from connectors.agents.errors import InvalidAgentInput
from connectors.errors import RasaUnavailable, RateLimited
from connectors.messages import IncomingMessage, rest_message
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
        from a colleague that were waiting come first), 429 or 503 with the reason when the
        assistant cannot answer now."""
        body = load_json_object(await read_body(request))
        text = body.get("text")
        if not isinstance(text, str):
            raise InvalidAgentInput("text must be a string")
        writes = await anyio.to_thread.run_sync(self.auth.may_change_orders, session.username)
        conversation = conversation_of(session.username)
        message = IncomingMessage(
            sender_id=conversation,
            channel=CHANNEL,
            text=text,
            staff=True,
            staff_writes=writes,
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
        return JSONResponse({"messages": [rest_message(reply) for reply in replies]})

    async def history(self, request: Request, session: AgentSession) -> Response:
        """The agent's Ask conversation, oldest first, with the roles it is asked with; a
        colleague's replies waiting for it count as delivered once read here."""
        conversation = conversation_of(session.username)
        delivery = self.turns.queue.delivery if self.turns.queue is not None else None
        mark = await delivery.newest(conversation) if delivery is not None else 0
        transcript = await self.turns.store.history(conversation)
        if delivery is not None:
            await delivery.mark_delivered(conversation, up_to=mark)
        writes = await anyio.to_thread.run_sync(self.auth.may_change_orders, session.username)
        return JSONResponse(
            {"conversation": conversation, "may_change_orders": writes, "transcript": transcript}
        )

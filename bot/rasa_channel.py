"""Rasa's REST channel behind a bearer token: the only channel Rasa exposes (runs in Rasa's env).

Rasa's ``--auth-token`` guards its HTTP API but not the channels' webhooks, so the stock
``rest`` channel would let anyone who reaches Rasa's port talk as any conversation with any
metadata (channel, role, client). This channel is Rasa's REST channel (same payload, same
replies, metadata kept) answering only requests with ``Authorization: Bearer <token>``:
the gateway's. bot/credentials.yml enables it with the token from ``RASA_TOKEN``:

    bot.rasa_channel.GatewayInput:
      token: ${RASA_TOKEN}

Its webhook is ``POST /webhooks/gateway/webhook``. A turn whose custom action failed is not
kept (bot/rasa_turns.py). Only Rasa imports this module (Python 3.10, rasa 3.6): it uses
nothing else of ours.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import rasa_turns
from contracts.auth import bearer_matches

logger = logging.getLogger(__name__)

CHANNEL_NAME = "gateway"


class GatewayInput(RestInput):
    """The gateway's channel: Rasa's REST webhook, answering only the holder of the token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise RasaException(
                f"the {CHANNEL_NAME} channel needs a token: set `token: ${{RASA_TOKEN}}` "
                "under bot.rasa_channel.GatewayInput in the credentials file"
            )
        self.token = token

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GatewayInput:
        token = (credentials or {}).get("token")
        return cls(token.strip() if isinstance(token, str) else "")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        # A turn whose custom action failed is dropped whole (bot/rasa_turns.py).
        rasa_turns.apply()
        webhook = super().blueprint(rasa_turns.whole_turns(on_new_message))

        @webhook.middleware("request")
        async def require_token(request: Request) -> HTTPResponse | None:
            if not bearer_matches(request.headers.get("authorization"), self.token):
                logger.warning("refused %s %s: missing or wrong bearer token",
                               request.method, request.path)  # fmt: skip
                return response.json(
                    {"error": "missing or wrong bearer token"},
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if request.method == "POST":
                return _invalid_message(request)
            return None

        return webhook


def _invalid_message(request: Request) -> HTTPResponse | None:
    """A 400 reply for a body RestInput would crash on, or None when it is a message."""
    try:
        body = request.json
    except Exception:  # Sanic raises its own error types for a body that is not JSON
        body = None
    if not isinstance(body, dict):
        reason = "the body must be a JSON object"
    elif not isinstance(body.get("sender"), str) or not body["sender"]:
        reason = "`sender` must be a non-empty string"
    elif not isinstance(body.get("message"), str):
        reason = "`message` must be a string"
    elif not isinstance(body.get("metadata", {}), dict | None):
        reason = "`metadata` must be an object"
    else:
        return None
    return response.json({"error": reason}, status=400)

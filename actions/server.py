"""`python -m actions.server`: rasa-sdk's action server on loopback, answering only Rasa.

rasa-sdk's own `python -m rasa_sdk` listens on every interface and runs any action for any
caller. This serves the same app (the actions of this package, /health, /webhook, /actions)
on 127.0.0.1 by default (ACTION_SERVER_HOST to change it), and every route but /health
requires ``Authorization: Bearer <ACTION_SERVER_TOKEN>``, the header Rasa sends
(bot/endpoints.yml).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
import warnings

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

TOKEN_ENV = "ACTION_SERVER_TOKEN"
HOST_ENV = "ACTION_SERVER_HOST"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
# Answers whether the process is up, and nothing about any customer.
OPEN_PATHS = frozenset({"/health"})

logger = logging.getLogger("actions")


def bearer_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``, compared in constant time.

    Example:
        >>> bearer_matches("Bearer s3cret", "s3cret"), bearer_matches("Bearer guess", "s3cret")
        (True, False)
    """
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    # Bytes, because compare_digest refuses str with characters outside ASCII.
    return hmac.compare_digest(
        value.strip().encode("utf-8", "replace"), token.encode("utf-8", "replace")
    )


def create_app(token: str, *, package: str = "actions") -> Sanic:
    """rasa-sdk's action server app for ``package``'s actions, with every route but /health
    closed to callers without the token.

    Raises:
        ValueError: ``token`` is empty.
    """
    if not token:
        raise ValueError(f"the action server needs a token ({TOKEN_ENV}), got an empty one")
    executor = ActionExecutor()
    executor.register_package(package)
    # No CORS: only Rasa calls the action server, never a browser. No tracing endpoints file.
    app = create_app_for_serve(executor, cors_origins=None, endpoints="")

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS or bearer_matches(
            request.headers.get("authorization"), token
        ):
            return None
        logger.warning("refused %s %s: missing or wrong bearer token", request.method, request.path)
        return json(
            {"error": "missing or wrong bearer token"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    # Before every other request middleware (CORS answers OPTIONS itself).
    app.register_middleware(require_token, "request", priority=100)
    return app


def main(argv: list[str] | None = None) -> int:
    """Serve the actions until SIGINT or SIGTERM; exit 2 without a token."""
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--host",
        default=os.environ.get(HOST_ENV) or DEFAULT_HOST,
        help=f"interface to listen on (default {HOST_ENV} or {DEFAULT_HOST})",
    )
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        print(
            f"{TOKEN_ENV} is not set: the action server answers only callers that send it, "
            "so it does not start without one. `python -m bot run` sets it "
            "(var/secrets.json); to run it alone, export the same token Rasa sends.",
            file=sys.stderr,
        )
        return 2
    # rasa-sdk 3.21 serves rasa 3.6 fine (same webhook protocol); drop its version warning.
    warnings.filterwarnings("ignore", "Your versions of rasa and rasa_sdk", UserWarning)
    utils.configure_colored_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    utils.update_sanic_log_level()
    app = create_app(token)
    # A bad VERIFICATION_SECRET, ACTIONS_STATE_DB or ANSWER_* setting stops the server here,
    # not a customer's turn; the retriever's model and indexes load now, not on first question.
    from actions.answering import answering_service
    from actions.verification import warm_up

    warm_up()
    answering_service().warm_up()
    logger.info("Action server listening on http://%s:%s", args.host, args.port)
    # One process: a crash is then visible to the launcher, which restarts it.
    app.run(host=args.host, port=args.port, single_process=True, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m actions.server`: rasa-sdk's action server on loopback, answering only Rasa.

rasa-sdk's own `python -m rasa_sdk` listens on every interface and runs any action for any
caller. This serves the same app (the actions of this package, /health, /webhook, /actions)
on 127.0.0.1 by default (ACTION_SERVER_HOST to change it), and every route but /health
and /metrics requires ``Authorization: Bearer <ACTION_SERVER_TOKEN>``, the header Rasa sends
(bot/endpoints.yml). /metrics (Prometheus, actions/metrics.py) answers a scraper sending
``Authorization: Bearer <METRICS_TOKEN>``, and is 404 without METRICS_TOKEN. Logs are
rasa-sdk's coloured lines, or JSON lines with LOG_FORMAT=json (actions/logs.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import generate_latest
from rasa_sdk import utils
from rasa_sdk.endpoint import create_app_for_serve
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json, raw

from actions.logs import use_json_logs
from actions.metrics import ActionMetrics, ObservedExecutor
from actions.settings import HOST, TOKEN, ActionServerSettings, use_settings
from contracts.auth import bearer_matches
from envvars import SettingsError

METRICS_PATH = "/metrics"
DEFAULT_PORT = 5055
# Answers whether the process is up, and nothing about any customer.
OPEN_PATHS = frozenset({"/health"})

logger = logging.getLogger("actions")


def create_app(
    token: str,
    *,
    package: str = "actions",
    metrics_token: str = "",
    metrics: ActionMetrics | None = None,
) -> Sanic:
    """rasa-sdk's action server app for ``package``'s actions, with every route but /health
    closed to callers without the token, and /metrics to scrapers without ``metrics_token``.

    Args:
        token: what Rasa sends (ACTION_SERVER_TOKEN).
        package: the package whose actions are served.
        metrics_token: what a Prometheus scraper sends (METRICS_TOKEN); empty: /metrics is
            404 for everyone.
        metrics: where the actions are counted (``app.ctx.metrics``); a registry of the
            app's own when None.

    Raises:
        ValueError: ``token`` is empty.
    """
    if not token:
        raise ValueError(f"the action server needs a token ({TOKEN.name}), got an empty one")
    metrics = metrics or ActionMetrics()
    executor = ObservedExecutor(metrics)
    executor.register_package(package)
    # No CORS: only Rasa calls the action server, never a browser. No tracing endpoints file.
    app = create_app_for_serve(executor, cors_origins=None, endpoints="")
    app.ctx.metrics = metrics

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path == METRICS_PATH:
            return _metrics_refusal(request, metrics_token)
        if request.path in OPEN_PATHS or bearer_matches(
            request.headers.get("authorization"), token
        ):
            return None
        return _refused(request)

    async def scrape(request: Request) -> HTTPResponse:
        return raw(
            generate_latest(metrics.registry),
            content_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )

    if metrics_token:
        app.add_route(scrape, METRICS_PATH, methods=["GET"], name="metrics")

    # Before every other request middleware (CORS answers OPTIONS itself).
    app.register_middleware(require_token, "request", priority=100)
    return app


def _metrics_refusal(request: Request, metrics_token: str) -> HTTPResponse | None:
    """None for a scrape with METRICS_TOKEN; 404 when there is none (Rasa's token does not
    open /metrics either), 401 for a missing or wrong token."""
    if not metrics_token:
        return json({"error": "not found"}, status=404)
    if bearer_matches(request.headers.get("authorization"), metrics_token):
        return None
    return _refused(request)


def _refused(request: Request) -> HTTPResponse:
    logger.warning("refused %s %s: missing or wrong bearer token", request.method, request.path)
    return json(
        {"error": "missing or wrong bearer token"},
        status=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


def main(argv: list[str] | None = None) -> int:
    """Serve the actions until SIGINT or SIGTERM; exit 2 without a token or with a setting it
    cannot use (actions/settings.py: a METRICS_TOKEN shorter than 16 characters, a LOG_FORMAT
    other than text or json, ...)."""
    try:
        settings = ActionServerSettings.from_env(os.environ)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--host",
        default=settings.host,
        help=f"interface to listen on (default {HOST.name} or {HOST.default})",
    )
    args = parser.parse_args(argv)
    if not settings.token:
        print(
            f"{TOKEN.name} is not set: the action server answers only callers that send it, "
            "so it does not start without one. `python -m bot run` sets it "
            "(var/secrets.json); to run it alone, export the same token Rasa sends.",
            file=sys.stderr,
        )
        return 2
    # rasa-sdk 3.21 serves rasa 3.6 fine (same webhook protocol); drop its version warning.
    warnings.filterwarnings("ignore", "Your versions of rasa and rasa_sdk", UserWarning)
    use_settings(settings)
    level = settings.log_level
    if settings.log_format == "json":
        utils.update_sanic_log_level()
        use_json_logs(level)
    else:
        utils.configure_colored_logging(level)
        utils.update_sanic_log_level()
    app = create_app(settings.token, metrics_token=settings.metrics_token)
    # A bad VERIFICATION_SECRET, or a state database (ACTIONS_STATE_DATABASE_URL) that cannot
    # be used, stops the server here, not a customer's turn; the retriever's model and
    # indexes load now, not on first question.
    from actions.answering import answering_service
    from actions.verification import warm_up
    from erp.errors import StateError, StateSettingsError

    try:
        warm_up()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    except StateError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        return 2 if isinstance(error, StateSettingsError) else 1
    answering_service().warm_up()
    logger.info("Action server listening on http://%s:%s", args.host, args.port)
    # One process: a crash is then visible to the launcher, which restarts it.
    app.run(host=args.host, port=args.port, single_process=True, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

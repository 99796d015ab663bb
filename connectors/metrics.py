"""The gateway's Prometheus metrics and its /metrics endpoint, closed without METRICS_TOKEN.

Each app has a registry of its own (several apps in one test process do not share counts).
Labels take values from small fixed sets only: channel names, outcomes, handoff rules and
error kinds, never a conversation id or anything a user typed. docs/observability.md lists
the metrics.
"""

from __future__ import annotations

import logging
import re

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts.auth import bearer_matches

logger = logging.getLogger("connectors")

CHANNELS = frozenset({"web", "telegram", "slack", "rest", "console"})
TURN_OUTCOMES = frozenset(
    {"rasa", "handoff", "invalid_message", "rate_limited", "rasa_unavailable", "internal"}
)
# Rasa answers within RASA_TIMEOUT (30 s by default); most turns take well under a second.
TURN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
_RULE = re.compile(
    r"(user_request|repeated_fallback|write_not_supported|frustration|sensitive_topic:[\w-]{1,40})"
)


def channel_label(channel: str) -> str:
    """``channel`` when it is one of the gateway's channels, else ``other``."""
    return channel if channel in CHANNELS else "other"


def rule_label(rule: str) -> str:
    """A handoff trigger's rule; sensitive topics keep their name (from the company's file)."""
    return rule if _RULE.fullmatch(rule) else "other"


class GatewayMetrics:
    """Turns, handoffs and errors of one gateway app, in a registry of its own.

    Example:
        >>> metrics = GatewayMetrics()
        >>> metrics.turn("web", "rasa", 0.42)
        >>> metrics.registry.get_sample_value(
        ...     "erp_assistant_gateway_turns_total", {"channel": "web", "outcome": "rasa"})
        1.0
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.turns = Counter(
            "erp_assistant_gateway_turns",
            "User messages taken through the turn path, by channel and how each ended.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.turn_seconds = Histogram(
            "erp_assistant_gateway_turn_seconds",
            "Seconds from a message's arrival to its replies, for turns answered by Rasa or by "
            "the handoff path.",
            ["channel"],
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )
        self.handoffs = Counter(
            "erp_assistant_gateway_handoffs",
            "Conversations handed to a person, by the trigger rule that fired.",
            ["rule"],
            registry=self.registry,
        )
        self.errors = Counter(
            "erp_assistant_gateway_errors",
            "Requests and turns the gateway could not answer normally, by kind.",
            ["kind"],
            registry=self.registry,
        )

    def turn(self, channel: str, outcome: str, seconds: float) -> None:
        """Count a turn; its time counts when the user got an answer (Rasa's or the handoff's).

        Errors (any outcome but ``rasa`` and ``handoff``) are counted by kind too.
        """
        label = channel_label(channel)
        outcome = outcome if outcome in TURN_OUTCOMES else "internal"
        self.turns.labels(label, outcome).inc()
        if outcome in ("rasa", "handoff"):
            self.turn_seconds.labels(label).observe(seconds)
        else:
            self.errors.labels(outcome).inc()

    def handoff(self, rule: str) -> None:
        """Count a conversation escalated to a person by ``rule``."""
        self.handoffs.labels(rule_label(rule)).inc()

    def error(self, kind: str) -> None:
        """Count a request refused before any turn (``body_too_large``, ``unauthorized``)."""
        self.errors.labels(kind).inc()


def metrics_routes(metrics: GatewayMetrics, token: str) -> list[Route]:
    """GET /metrics for a scraper sending ``Authorization: Bearer <token>``; none without a token.

    The gateway is reachable from the internet behind its proxy: without METRICS_TOKEN the
    path does not exist (404, as any unknown path), with it a wrong or missing token gets 401.
    """
    if not token:
        return []

    async def scrape(request: Request) -> Response:
        if not bearer_matches(request.headers.get("authorization", ""), token):
            logger.warning("refused a /metrics scrape: missing or wrong bearer token")
            metrics.error("unauthorized")
            return JSONResponse(
                {"error": "missing or wrong bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(
            generate_latest(metrics.registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )

    return [Route("/metrics", scrape, methods=["GET"])]

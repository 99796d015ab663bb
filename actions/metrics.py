"""The action server's Prometheus metrics: actions, fallbacks, errors, ERP, retrieval, generator.

Each app has a registry of its own (several apps in one test process do not share counts).
`ObservedExecutor` runs every action Rasa asks for inside an `ActionRun`, held in a context
variable that asyncio copies into the threads an action starts (`asyncio.to_thread`), so
the code deep in an action records into its server's metrics through the functions below,
which do nothing outside a run (tests of single actions, warm-up). Labels take values from
small fixed sets only: registered action names, outcomes, ERP operation names (module and
function), error kinds; never a conversation id or anything a user typed.
docs/observability.md lists the metrics.

Example:
    >>> metrics = ActionMetrics()
    >>> executor = ObservedExecutor(metrics)
    >>> executor.register_package("actions")
    >>> await executor.run(action_call)  # counted, timed, logged with the conversation's tag
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import (
    ActionExecutionRejection,
    ActionMissingDomainException,
    ActionNotFoundException,
)

from contracts.logs import conversation_logged
from contracts.redaction import conversation_tag
from erp.errors import ErpError
from i18n.languages import DEFAULT_LANGUAGE, as_language
from i18n.texts import speaking
from retrieval.errors import InvalidQuery, RetrievalError

if TYPE_CHECKING:
    from rasa_sdk.executor import ActionExecutorRunResult, CollectingDispatcher

ACTION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
ERP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
RETRIEVAL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
TOKENS_PER_SECOND_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)
NLU_FALLBACK_INTENT = "nlu_fallback"
_LABEL = re.compile(r"[a-z0-9_.]{1,80}")


class ActionMetrics:
    """The action server's metrics, in a registry of its own.

    Example:
        >>> metrics = ActionMetrics()
        >>> with action_run(metrics, "action_order_status"):
        ...     pass
        >>> metrics.registry.get_sample_value(
        ...     "erp_assistant_actions_total", {"action": "action_order_status", "outcome": "ok"})
        1.0
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.actions = Counter(
            "erp_assistant_actions",
            "Actions run for Rasa, by action and outcome.",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.action_seconds = Histogram(
            "erp_assistant_action_seconds",
            "Seconds an action took, by action and outcome.",
            ["action", "outcome"],
            buckets=ACTION_BUCKETS,
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "erp_assistant_fallbacks",
            "Turns the bot could not answer (default, out_of_scope, document_unknown) and "
            "actions run for an nlu_fallback message (nlu_fallback).",
            ["kind"],
            registry=self.registry,
        )
        self.errors = Counter(
            "erp_assistant_action_errors",
            "Errors while running actions, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.erp_seconds = Histogram(
            "erp_assistant_erp_query_seconds",
            "Seconds an ERP call took (in its worker thread, session included), by operation "
            "and outcome.",
            ["operation", "outcome"],
            buckets=ERP_BUCKETS,
            registry=self.registry,
        )
        self.retrieval_seconds = Histogram(
            "erp_assistant_retrieval_seconds",
            "Seconds a document search took, by outcome.",
            ["outcome"],
            buckets=RETRIEVAL_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "erp_assistant_answers",
            "Answers worded, by kind (erp, doc), whose words they are and why.",
            ["kind", "wording", "reason"],
            registry=self.registry,
        )
        self.first_token_seconds = Histogram(
            "erp_assistant_generator_first_token_seconds",
            "Seconds from asking the generator to its first piece of text: its queue wait, "
            "the prompt and the first token (the server does not report the wait alone).",
            buckets=FIRST_TOKEN_BUCKETS,
            registry=self.registry,
        )
        self.tokens_per_second = Histogram(
            "erp_assistant_generator_tokens_per_second",
            "The generator's decoding speed after the first token, per answer.",
            buckets=TOKENS_PER_SECOND_BUCKETS,
            registry=self.registry,
        )


@dataclass
class ActionRun:
    """One action being run: its label, where it records, and how it is going."""

    action: str
    metrics: ActionMetrics
    outcome: str = "ok"


_run: ContextVar[ActionRun | None] = ContextVar("action_run", default=None)


def label(value: str) -> str:
    """``value`` when it is a short lower-case identifier, else ``other``."""
    return value if _LABEL.fullmatch(value) else "other"


def snake(name: str) -> str:
    """An exception class's name as an error kind: ``ErpUnavailable`` -> ``erp_unavailable``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@contextmanager
def action_run(metrics: ActionMetrics, action: str) -> Iterator[ActionRun]:
    """Count and time the action run inside the block; the block sets ``outcome`` if not ok."""
    run = ActionRun(action, metrics)
    token = _run.set(run)
    started = time.perf_counter()
    try:
        yield run
    finally:
        _run.reset(token)
        metrics.actions.labels(run.action, run.outcome).inc()
        metrics.action_seconds.labels(run.action, run.outcome).observe(
            time.perf_counter() - started
        )


def error_replied(error: Exception) -> None:
    """An action answered with an apology for ``error`` (actions/replies.py `guarded`)."""
    run = _run.get()
    if run is not None:
        run.outcome = "error_reply"
        run.metrics.errors.labels(_error_kind(error)).inc()


def fallback(kind: str) -> None:
    """A turn the bot could not answer: ``default``, ``out_of_scope``, ``document_unknown``."""
    run = _run.get()
    if run is not None:
        run.metrics.fallbacks.labels(label(kind)).inc()


def erp_call_done(operation: str, outcome: str, seconds: float) -> None:
    """An ERP call (actions/erp_calls.py) took ``seconds`` and ended with ``outcome``."""
    run = _run.get()
    if run is not None:
        run.metrics.erp_seconds.labels(label(operation), label(outcome)).observe(seconds)


@contextmanager
def retrieval_timed() -> Iterator[None]:
    """Time the document search inside the block: ``ok``, ``invalid`` (a question that cannot
    be searched) or ``error`` (the index is not there, say; counted as an error too)."""
    run = _run.get()
    started = time.perf_counter()
    outcome = "ok"
    try:
        yield
    except InvalidQuery:
        outcome = "invalid"
        raise
    except Exception as error:
        outcome = "error"
        if run is not None:
            run.metrics.errors.labels(_error_kind(error)).inc()
        raise
    finally:
        if run is not None:
            seconds = time.perf_counter() - started
            run.metrics.retrieval_seconds.labels(outcome).observe(seconds)


def answer_worded(kind: str, wording: str, reason: str) -> None:
    """An answer was worded (actions/answering.py): by the generator, a template or passages."""
    run = _run.get()
    if run is not None:
        run.metrics.answers.labels(label(kind), label(wording), label(reason or "none")).inc()


def generator_timed(first_token_seconds: float | None, tokens_per_second: float | None) -> None:
    """One generator request's time to its first piece and decoding speed (when known)."""
    run = _run.get()
    if run is None:
        return
    if first_token_seconds is not None:
        run.metrics.first_token_seconds.observe(first_token_seconds)
    if tokens_per_second is not None and tokens_per_second > 0:
        run.metrics.tokens_per_second.observe(tokens_per_second)


def _error_kind(error: Exception) -> str:
    """The error hierarchies' class names (erp/errors.py, retrieval/errors.py); anything else
    is ``unexpected``, so a label never takes an arbitrary name."""
    if isinstance(error, ErpError | RetrievalError):
        return label(snake(type(error).__name__))
    return "unexpected"


class ObservedExecutor(ActionExecutor):
    """rasa-sdk's executor, running each action with its conversation's tag on every log line
    and counted and timed in ``metrics`` under its registered name.

    Outcomes: ``ok``; ``error_reply`` (the action caught an error and apologised);
    ``rejected`` (a form validation rejected the run: Rasa tries another policy);
    ``domain_requested`` (the call lacked the domain: Rasa sends it again with it);
    ``failed`` (it raised: Rasa gets a 500); ``not_found`` (no such action, named
    ``unknown``).
    """

    def __init__(self, metrics: ActionMetrics) -> None:
        super().__init__()
        self.metrics = metrics

    async def run(
        self,
        action_call: dict[str, Any],
        sink: Any = None,
        dispatcher: CollectingDispatcher | None = None,
    ) -> ActionExecutorRunResult | None:
        name = str(action_call.get("next_action") or "")
        tracker = action_call.get("tracker")
        tracker = tracker if isinstance(tracker, dict) else {}
        sender = tracker.get("sender_id") or action_call.get("sender_id")
        tag = conversation_tag(sender) if isinstance(sender, str) and sender else None
        slots = tracker.get("slots")
        language = as_language(slots.get("language") if isinstance(slots, dict) else None)
        with (
            conversation_logged(tag),
            speaking(language or DEFAULT_LANGUAGE),
            action_run(self.metrics, name if name in self.actions else "unknown") as run,
        ):
            if _intent(tracker) == NLU_FALLBACK_INTENT:
                self.metrics.fallbacks.labels(NLU_FALLBACK_INTENT).inc()
            try:
                return await super().run(action_call, sink, dispatcher)
            except ActionExecutionRejection:
                run.outcome = "rejected"
                raise
            except ActionMissingDomainException:
                run.outcome = "domain_requested"  # Rasa sends it again with its domain
                raise
            except ActionNotFoundException:
                run.outcome = "not_found"
                self.metrics.errors.labels("action_not_found").inc()
                raise
            except Exception:
                run.outcome = "failed"
                self.metrics.errors.labels("action_failed").inc()
                raise


def _intent(tracker: dict[str, Any]) -> str:
    latest = tracker.get("latest_message")
    intent = latest.get("intent") if isinstance(latest, dict) else None
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) else ""

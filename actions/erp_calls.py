"""Run erp/ service functions from async actions: one session per call, off the event loop,
each call recorded in the audit trail (erp/audit.py) for the conversation that asked and
timed in the action server's metrics (actions/metrics.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from actions.metrics import erp_call_done
from erp.audit import AuditEvent, Stopwatch, audit_trail
from erp.errors import (
    AccessDenied,
    ErpUnavailable,
    InvalidIdentifier,
    NotKept,
    RecordNotFound,
    WritesNotSupported,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Outcomes recorded for errors; anything else raised is "error".
_ERROR_OUTCOMES: tuple[tuple[type[Exception], str], ...] = (
    (RecordNotFound, "not_found"),
    (AccessDenied, "denied"),
    (ErpUnavailable, "unavailable"),
    (NotKept, "not_kept"),
    (WritesNotSupported, "not_supported"),
    (InvalidIdentifier, "invalid"),
)


@dataclass(frozen=True)
class Asker:
    """Who the current action's ERP calls are made for (set by the action base classes)."""

    conversation: str
    channel: str
    actor: str
    customer: str
    record: str


_asker: ContextVar[Asker | None] = ContextVar("erp_asker", default=None)


@contextmanager
def asking_for(asker: Asker) -> Iterator[None]:
    """Record the ERP calls made inside the block as made for ``asker``."""
    token = _asker.set(asker)
    try:
        yield
    finally:
        _asker.reset(token)


def _call_in_session(
    function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    from erp.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        return function(*args, session=session, **kwargs)


def _audited(asker: Asker | None, function: Callable[..., Any], run: Callable[[], T]) -> T:
    watch = Stopwatch()
    outcome = "error"
    try:
        result = run()
        outcome = _outcome_of(result)
        return result
    except Exception as error:
        outcome = next((o for kind, o in _ERROR_OUTCOMES if isinstance(error, kind)), "error")
        raise
    finally:
        ms = watch.ms
        erp_call_done(operation_name(function), outcome, ms / 1000)
        _record(asker, function, outcome, ms)


def operation_name(function: Callable[..., Any]) -> str:
    """What the audit trail and the metrics call an ERP function: ``orders.get_order_status``."""
    module = getattr(function, "__module__", "").rsplit(".", 1)[-1]
    return f"{module}.{getattr(function, '__name__', 'call')}"


def _outcome_of(result: object) -> str:
    """``ok``; ``none`` for a lookup that found nothing (an identity that did not match);
    for a write, whether it was made (``done``), repeated or ``refused``."""
    if result is None or result is False:
        return "none"
    done = getattr(result, "done", None)
    if isinstance(done, bool):
        if getattr(result, "repeated", False):
            return "repeated"
        return "done" if done else "refused"
    return "ok"


def _record(asker: Asker | None, function: Callable[..., Any], outcome: str, ms: float) -> None:
    if asker is None:
        return  # not made for a conversation (warm-up, tests of the ERP layer)
    try:
        audit_trail().record(
            AuditEvent(
                conversation=asker.conversation,
                channel=asker.channel,
                actor=asker.actor,
                customer=asker.customer,
                operation=operation_name(function),
                record=asker.record,
                outcome=outcome,
                ms=ms,
            )
        )
    except Exception:  # the trail failing must not fail the customer's answer
        logger.exception("could not record an audit event")


async def erp_call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `function(*args, session=..., **kwargs)` in a worker thread with its own
    read-only transaction, recorded in the audit trail."""
    asker = _asker.get()
    return await asyncio.to_thread(
        _audited, asker, function, lambda: _call_in_session(function, args, kwargs)
    )


async def erp_write(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a change of erp/writes.py (which opens its own write transaction) in a worker
    thread, recorded in the audit trail."""
    asker = _asker.get()
    return await asyncio.to_thread(_audited, asker, function, lambda: function(*args, **kwargs))


def today() -> date:
    """The business date the answers are computed for."""
    return date.today()

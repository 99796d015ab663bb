"""Run erp/ service functions from async actions: one session per call, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

T = TypeVar("T")


def _call_in_session(
    function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> T:
    from erp.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        return function(*args, session=session, **kwargs)


async def erp_call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `function(*args, session=..., **kwargs)` in a worker thread with its own transaction."""
    return await asyncio.to_thread(_call_in_session, function, args, kwargs)


def today() -> date:
    """The business date the answers are computed for."""
    return date.today()

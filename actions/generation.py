"""The generator as actions use it: loaded once, run off the event loop, one answer at a time.

Every caller has a reply of its own (the extractive passage, the ERP template) and gets
either a grounded answer to use instead or None. The model is loaded on first use; if it is
switched off (GENERATOR_BACKEND=off), missing or broken, the caller's own reply is used and
the reason is logged once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Sequence

from models.answer import GroundedAnswer, SentenceSink, grounded_answer
from models.examples import ContextItem
from models.generator import Generator, load_generator
from models.settings import GeneratorSettings

logger = logging.getLogger(__name__)

# llama.cpp and torch models are not safe to run from two threads at once.
_model_lock = threading.Lock()
_unavailable: set[str] = set()


def _settings() -> GeneratorSettings | None:
    try:
        return GeneratorSettings.from_env()
    except ValueError as error:
        _warn_once(str(error))
        return None


def _warn_once(reason: str) -> None:
    if reason not in _unavailable:
        _unavailable.add(reason)
        logger.warning("answering without the generator: %s", reason)


@functools.lru_cache(maxsize=1)
def _product_names() -> frozenset[str]:
    from erp.db import get_engine, session_scope
    from models.guard import product_names_from_erp

    with session_scope(get_engine()) as session:
        return product_names_from_erp(session=session)


def _product_names_or_empty() -> frozenset[str]:
    try:
        return _product_names()
    except Exception as error:  # the guard still checks numbers, ids and dates without them
        _warn_once(f"product names unavailable ({error})")
        return frozenset()


def _run(
    question: str,
    context: Sequence[ContextItem],
    required_facts: Sequence[str],
    on_sentence: SentenceSink | None,
) -> GroundedAnswer | None:
    settings = _settings()
    if settings is None or not settings.enabled:
        return None
    try:
        generator: Generator | None = load_generator(settings)
    except Exception as error:  # a missing model or backend must not cost the user a reply
        _warn_once(f"{type(error).__name__}: {error}")
        return None
    if generator is None:
        return None
    names = _product_names_or_empty()
    try:
        with _model_lock:
            return grounded_answer(
                question,
                context,
                generator=generator,
                prompt_tokens=settings.prompt_tokens,
                product_names=names,
                required_facts=required_facts,
                on_sentence=on_sentence,
            )
    except Exception:
        logger.exception("the generator failed; answering without it")
        return None


async def generate_grounded(
    question: str,
    context: Sequence[ContextItem],
    *,
    required_facts: Sequence[str] = (),
    on_sentence: SentenceSink | None = None,
) -> GroundedAnswer | None:
    """A grounded answer from the generator, or None when the generator is off or unavailable.

    Runs in a worker thread; ``on_sentence`` is called from that thread.
    """
    return await asyncio.to_thread(_run, question, context, required_facts, on_sentence)


async def worded(question: str, facts: ContextItem, required: Sequence[str], template: str) -> str:
    """ERP facts in the generator's words when grounded and complete, else ``template``.

    The facts come from the database either way; the generator only chooses the words, and
    its text is used only if every fact in it is in ``facts`` and it states ``required``.
    """
    result = await generate_grounded(question, [facts], required_facts=required)
    if result is not None and result.usable:
        return result.text
    if result is not None:
        logger.info("generated ERP wording not used (%s)", result.outcome)
    return template

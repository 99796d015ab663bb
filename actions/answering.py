"""The answering service: ERP facts and passages into replies, the generator off the critical path.

Every action that answers goes through one `AnsweringService`, built once per process from
the environment (`answering_service`) and warmed up when the action server starts (the
retriever's model and indexes, the catalogue names the guard needs, a look at the
generator). It holds what the answers need, given at construction: the settings, the
generator (the generator process over HTTP, `models.remote`, or None when it is off) and
the retriever.

What a customer waits on is never the model:

- An ERP answer is the template (`models.erp_facts.describe_*`), built from the database.
  The generator may reword it only if its grounded, complete wording is ready within
  ``erp_budget`` seconds (ANSWER_ERP_BUDGET_MS, 300 ms) and the model is free now; past the
  budget the template is final and the abandoned generation is cancelled. When the model
  keeps missing the budget (a CPU machine under load) it is asked only now and then, so its
  time goes to the answers that can use it.
- A document answer shows the best passage with its citation as a draft at once (web, Telegram,
  Slack), then the generator's guarded sentences as they come, if the model is free within
  ``doc_wait`` seconds (ANSWER_DOC_WAIT_MS, 500 ms) and its first sentence arrives within
  ``doc_first_sentence`` seconds (ANSWER_DOC_FIRST_SENTENCE_S, 4 s). Otherwise the passage
  is the answer.

Each answer is logged as ``answer kind=erp|doc wording=generated|template|extractive
reason=... seconds=...``; `make bench-load` counts those lines. The action server's metrics
(actions/metrics.py) count them too, and time the document searches and each generator
request (`_Measured`).

Example:
    >>> service = answering_service()
    >>> worded = await service.erp_answer(question, order_context(status), required, template)
    >>> worded.text
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from actions.metrics import answer_worded, generator_timed, retrieval_timed
from actions.settings import AnsweringSettings, current_settings
from i18n.texts import current_language
from models.answer import GroundedAnswer, SentenceSink, grounded_answer
from models.errors import GeneratorError
from models.examples import ContextItem
from models.remote import RemoteGenerator, remote_generator

if TYPE_CHECKING:
    from models.generator import Generation, Generator
    from retrieval.service import Retriever
    from retrieval.types import Passage

logger = logging.getLogger(__name__)

Wording = Literal["generated", "template", "extractive"]
# Generations running or queued at once from this process; more would only wait for threads.
WORKERS = 8
# After this many ERP wordings in a row missed the budget, only one in PROBE_EVERY is tried.
MISSES_BEFORE_BACKOFF = 3
PROBE_EVERY = 10


@dataclass(frozen=True)
class Worded:
    """A reply and whose words it is in: the generator's, the template's or the passages'."""

    text: str
    wording: Wording
    reason: str = ""
    answer: GroundedAnswer | None = None


class _Budget:
    """Whether to ask the generator for ERP wording: not while it keeps missing the budget."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._misses = 0
        self._skipped = 0

    def worth_trying(self) -> bool:
        with self._lock:
            if self._misses < MISSES_BEFORE_BACKOFF:
                return True
            self._skipped += 1
            if self._skipped >= PROBE_EVERY:
                self._skipped = 0
                return True
            return False

    def record(self, *, in_time: bool) -> None:
        with self._lock:
            self._misses = 0 if in_time else self._misses + 1


class AnsweringService:
    """Turns ERP facts and retrieved passages into the replies actions send (see the module).

    Args:
        settings: The answers' waits and budgets.
        generator: The generator to word answers with (thread-safe; one that accepts
            ``wait_seconds`` is told how long it may queue), or None for templates and
            passages only.
        retriever: Returns the document retriever (called lazily, cached by the caller).
        product_names: Returns the catalogue's names, so an invented product fails the guard.
        prompt_tokens: The prompt's token budget (GENERATOR_PROMPT_TOKENS).
    """

    def __init__(
        self,
        settings: AnsweringSettings,
        *,
        generator: Generator | None,
        retriever: Callable[[], Retriever],
        product_names: Callable[[], frozenset[str]],
        prompt_tokens: int,
    ) -> None:
        self.settings = settings
        self.generator = generator
        self._retriever = retriever
        self._product_names = product_names
        self._names: frozenset[str] | None = None
        self.prompt_tokens = prompt_tokens
        self._budget = _Budget()
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="answering")

    # --- start-up ------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load the retriever's model and indexes and the catalogue names now, not on first use.

        A part that cannot be loaded is logged; its answers fall back when they are asked.
        """
        started = time.perf_counter()
        try:
            self._retriever().warm_up()
        except Exception as error:  # documents then answer "unavailable"; the rest works
            logger.warning("document search not ready at start: %s", error)
        self.product_names()
        state = "off" if self.generator is None else self.generator.name
        logger.info(
            "answering service ready in %.1f s (generator: %s, ERP budget %.0f ms)",
            time.perf_counter() - started,
            state,
            self.settings.erp_budget * 1000,
        )

    def product_names(self) -> frozenset[str]:
        """The catalogue's names (read once); empty when the ERP cannot be read now."""
        if self._names is None:
            try:
                self._names = self._product_names()
            except Exception as error:  # the guard still checks numbers, ids and dates
                logger.warning("product names unavailable to the guard: %s", error)
                return frozenset()
        return self._names

    # --- documents -----------------------------------------------------------------------

    def search(self, question: str, top_k: int) -> list[Passage]:
        """The best passages for ``question`` (blocking: call it from a worker thread)."""
        with retrieval_timed():
            return self._retriever().search(question, top_k=top_k)

    async def document_answer(
        self,
        question: str,
        context: Sequence[ContextItem],
        extractive: str,
        *,
        show: SentenceSink | None = None,
    ) -> Worded:
        """The generator's grounded answer over the passages, or ``extractive``.

        ``show`` (a draft stream) gets ``extractive`` at once, then the generated sentences
        that pass the guard as they come.
        """
        started = time.perf_counter()
        if self.generator is None:
            return self._log("doc", Worded(extractive, "extractive", "off"), started)
        if current_language() != "en":  # the generator writes English only
            return self._log("doc", Worded(extractive, "extractive", "language"), started)
        if show is not None:
            await asyncio.to_thread(show, extractive)
        first = threading.Event()
        deadline = time.monotonic() + self.settings.doc_wait + self.settings.doc_first_sentence

        def on_sentence(text: str) -> None:
            first.set()
            if show is not None:
                show(text)

        def late() -> bool:
            return not first.is_set() and time.monotonic() > deadline

        result = await self._generate(
            question,
            context,
            wait=self.settings.doc_wait,
            on_sentence=on_sentence,
            should_stop=late,
        )
        if result.usable:
            return self._log("doc", Worded(result.text, "generated", "answer", result), started)
        return self._log("doc", Worded(extractive, "extractive", result.outcome, result), started)

    # --- ERP facts -----------------------------------------------------------------------

    async def erp_answer(
        self, question: str, facts: ContextItem, required: Sequence[str], template: str
    ) -> Worded:
        """``template``, or the generator's wording of ``facts`` if it is ready within budget.

        The facts come from the database either way; the generator only chooses the words,
        and its text is used only if every fact in it is in ``facts`` and it states every
        string of ``required``.
        """
        started = time.perf_counter()
        budget = self.settings.erp_budget
        if self.generator is None or budget <= 0:
            return self._log("erp", Worded(template, "template", "off"), started)
        if current_language() != "en":  # the generator writes English only
            return self._log("erp", Worded(template, "template", "language"), started)
        if not self._budget.worth_trying():
            return self._log("erp", Worded(template, "template", "slow"), started)
        stop = threading.Event()
        work = asyncio.ensure_future(
            self._generate(question, [facts], wait=0.0, required=required, should_stop=stop.is_set)
        )
        try:
            result = await asyncio.wait_for(asyncio.shield(work), timeout=budget)
        except TimeoutError:
            stop.set()  # the worker stops at the model's next token and frees it
            self._budget.record(in_time=False)
            return self._log("erp", Worded(template, "template", "budget"), started)
        self._budget.record(in_time=result.outcome not in ("busy", "error"))
        if result.usable:
            return self._log("erp", Worded(result.text, "generated", "answer", result), started)
        return self._log("erp", Worded(template, "template", result.outcome, result), started)

    # --- the generator -------------------------------------------------------------------

    async def _generate(
        self,
        question: str,
        context: Sequence[ContextItem],
        *,
        wait: float,
        required: Sequence[str] = (),
        on_sentence: SentenceSink | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> GroundedAnswer:
        generator = self.generator
        assert generator is not None
        patient = _Measured(_waiting(generator, wait))
        names = self.product_names()

        def run() -> GroundedAnswer:
            try:
                return grounded_answer(
                    question,
                    context,
                    generator=patient,
                    prompt_tokens=self.prompt_tokens,
                    product_names=names,
                    required_facts=required,
                    on_sentence=on_sentence,
                    should_stop=should_stop,
                )
            except GeneratorError as error:
                logger.info("answering without the generator: %s", error)
            except Exception:
                logger.exception("the generator failed; answering without it")
            return GroundedAnswer("error", "")

        loop = asyncio.get_running_loop()
        # As asyncio.to_thread does: the worker logs with the conversation's tag and
        # records into the action's metrics.
        return await loop.run_in_executor(self._pool, contextvars.copy_context().run, run)

    def _log(self, kind: str, worded: Worded, started: float) -> Worded:
        answer_worded(kind, worded.wording, worded.reason)
        logger.info(
            "answer kind=%s wording=%s reason=%s seconds=%.3f",
            kind,
            worded.wording,
            worded.reason or "-",
            time.perf_counter() - started,
        )
        return worded


class _Waiting:
    """A remote generator that waits at most ``seconds`` for the model on every request."""

    def __init__(self, generator: RemoteGenerator, seconds: float) -> None:
        self._generator = generator
        self.seconds = seconds
        self.name = generator.name
        self.limits = generator.limits

    def count_tokens(self, text: str) -> int:
        return self._generator.count_tokens(text)

    def generate(self, prompt: str) -> Generation:
        return self._generator.generate(prompt, wait_seconds=self.seconds)

    def stream(self, prompt: str) -> Iterator[str]:
        return self._generator.stream(prompt, wait_seconds=self.seconds)


class _Measured:
    """A generator whose requests report their time to the first piece of text and their
    decoding speed to the action server's metrics.

    ``generate`` reports the generator's own figures: its token count and timings
    (`Generation.tokens_per_second`), and as the time to the first token what the
    caller waited before the generator's clock started plus the generator's own time to it.
    ``stream`` gets text pieces only: the remote client does not pass on the counts and
    timings the server sends at the end. There the time to the first piece is measured here
    (the server's queue, the prompt and the first token), and the speed is pieces per
    second after the first piece: the server sends a piece per decoded token (a character
    split over tokens waits for the next), so it is close to tokens per second.
    """

    def __init__(self, generator: Generator) -> None:
        self._generator = generator
        self.name = generator.name
        self.limits = generator.limits

    def count_tokens(self, text: str) -> int:
        return self._generator.count_tokens(text)

    def generate(self, prompt: str) -> Generation:
        started = time.perf_counter()
        generation = self._generator.generate(prompt)
        waited = max(0.0, time.perf_counter() - started - generation.seconds)
        first = generation.first_token_seconds
        generator_timed(None if first is None else waited + first, generation.tokens_per_second)
        return generation

    def stream(self, prompt: str) -> Iterator[str]:
        started = time.perf_counter()
        first: float | None = None
        last = started
        pieces = 0
        inner = self._generator.stream(prompt)
        try:
            for piece in inner:
                last = time.perf_counter()
                if first is None:
                    first = last
                pieces += 1
                yield piece
        finally:
            close = getattr(inner, "close", None)
            if callable(close):
                close()  # an abandoned answer frees the model now, not when collected
            speed = (pieces - 1) / (last - first) if first is not None and last > first else None
            generator_timed(None if first is None else first - started, speed)


def _waiting(generator: Generator, seconds: float) -> Generator:
    """The generator told to wait at most ``seconds`` for the model, when it can be told.

    A generator with a ``waiting(seconds)`` view (test doubles) returns that view.
    """
    if isinstance(generator, RemoteGenerator):
        return _Waiting(generator, seconds)
    waiting = getattr(generator, "waiting", None)
    return waiting(seconds) if callable(waiting) else generator


def _catalogue_names() -> frozenset[str]:
    from erp.db import get_engine, session_scope
    from models.guard import product_names_from_erp

    with session_scope(get_engine()) as session:
        return product_names_from_erp(session=session)


def build_service() -> AnsweringService:
    """The service as the environment configures it (GENERATOR_*, ANSWER_*, RETRIEVAL_*).

    The generator is the generator process at GENERATOR_URL (`models.remote`); without
    one, or with GENERATOR_BACKEND=off, answers use templates and passages. The action
    server never loads the model itself.
    """

    from models.settings import GeneratorSettings
    from retrieval.service import default_retriever

    settings = current_settings().answering
    generator_settings = GeneratorSettings.from_env()
    generator: Generator | None = remote_generator(generator_settings)
    if generator_settings.enabled and generator is None:
        logger.warning("GENERATOR_URL is not set: answering with templates and passages")
    return AnsweringService(
        settings,
        generator=generator,
        retriever=default_retriever,
        product_names=_catalogue_names,
        prompt_tokens=generator_settings.prompt_tokens,
    )


_service: AnsweringService | None = None
_service_lock = threading.Lock()


def answering_service() -> AnsweringService:
    """The process's answering service, built from the environment on first use."""
    global _service
    with _service_lock:
        if _service is None:
            _service = build_service()
        return _service


def use_service(service: AnsweringService | None) -> None:
    """Replace the process's service (tests; None: build it from the environment again)."""
    global _service
    with _service_lock:
        _service = service

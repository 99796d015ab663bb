"""A grounded answer: the generator's words, kept only when every fact in them is in the context.

This is the one function the actions call. It removes instruction-like sentences from the
context (models.injection), builds the prompt the model was trained on, generates within
the configured limits and checks the result with the grounding guard. The caller gets
either a refusal, an answer that passed the guard, or a reason to use its own extractive
or templated reply instead; it never gets unchecked text.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from models.errors import GeneratorBusy, GeneratorError
from models.examples import ContextItem
from models.generator import Generation, Generator
from models.guard import GuardResult, check
from models.injection import sanitise
from models.metrics import exact_fact_match, is_refusal
from models.prompt import build_prompt

log = logging.getLogger(__name__)

Outcome = Literal[
    "answer", "refusal", "unsupported", "incomplete", "empty", "busy", "error", "late"
]
# Called with the answer so far, a sentence at a time, for channels that show it growing.
SentenceSink = Callable[[str], None]


@dataclass(frozen=True)
class GroundedAnswer:
    """What the generator produced and whether it may be shown.

    ``outcome`` is "answer" (show ``text``), "refusal" (the model says the context does
    not hold the answer), or a reason to fall back: "unsupported" (the guard found facts
    not in the context: ``guard.unsupported``), "incomplete" (a required fact is
    missing), "empty", "busy" (the model's queue was full, or it stayed busy as long as the
    caller would wait: load, not a fault), "error" or "late" (the caller's ``should_stop``
    said its time was up).
    """

    outcome: Outcome
    text: str
    guard: GuardResult | None = None
    generation: Generation | None = None
    removed_instructions: int = 0
    items: tuple[ContextItem, ...] = ()  # the context items the prompt held

    @property
    def usable(self) -> bool:
        return self.outcome == "answer"


def grounded_answer(
    question: str,
    context: Sequence[ContextItem],
    *,
    generator: Generator,
    prompt_tokens: int,
    product_names: Collection[str] = (),
    required_facts: Sequence[str] = (),
    on_sentence: SentenceSink | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> GroundedAnswer:
    """Ask the generator, then keep its answer only if it is grounded in ``context``.

    Args:
        question: The customer's words.
        context: Passages or ERP facts, most relevant first.
        generator: A loaded backend (`models.generator.load_generator`).
        prompt_tokens: The prompt's token budget; context items are cut to fit.
        product_names: Catalogue names, so an invented product name fails the guard.
        required_facts: Strings the answer must contain (an ERP answer must name the
            order and its status, say); a missing one makes the outcome "incomplete".
        on_sentence: Called with the guarded text so far each time a sentence completes,
            for channels that show the answer as it grows. A sentence that fails the guard
            is never passed on; generation still finishes so the outcome is reported.
        should_stop: Asked after every piece the model produces; when it answers True the
            generation is abandoned (the model is freed at once) and the outcome is "late".

    Returns:
        The outcome and text; the guard's verdict is checked against the sanitised context,
        so a fact that only an injected instruction mentions does not count as support.

    Example:
        >>> result = grounded_answer("How long do refunds take?", items, generator=gen,
        ...                          prompt_tokens=320)
        >>> result.text if result.usable else extractive
    """
    cleaned: list[ContextItem] = []
    removed = 0
    for item in context:
        safe = sanitise(item.text)
        removed += len(safe.removed)
        if safe.text:
            cleaned.append(dataclasses.replace(item, text=safe.text))
    if removed:
        log.warning("left %d instruction-like sentence(s) out of the generator's context", removed)
    try:
        prompt = build_prompt(
            question, cleaned, max_tokens=prompt_tokens, count_tokens=generator.count_tokens
        )
        if on_sentence is None and should_stop is None:
            generation = generator.generate(prompt.text)
            text = generation.text.strip()
        else:
            generation = None
            text = _stream_sentences(generator, prompt.text, prompt.items, product_names,
                                     on_sentence, should_stop)  # fmt: skip
    except _Stopped:
        return GroundedAnswer("late", "", removed_instructions=removed)
    except GeneratorBusy as error:
        log.info("generator busy, falling back: %s", error)
        return GroundedAnswer("busy", "", removed_instructions=removed)
    except (GeneratorError, ValueError) as error:
        log.warning("generator failed, falling back: %s", error)
        return GroundedAnswer("error", "", removed_instructions=removed)
    items = prompt.items
    if not text:
        return GroundedAnswer("empty", "", None, generation, removed, items)
    if is_refusal(text):
        return GroundedAnswer("refusal", text, None, generation, removed, items)
    verdict = check(text, items, product_names=product_names)
    if not verdict.passed:
        log.info("generated answer failed the guard: %s", verdict.unsupported)
        return GroundedAnswer("unsupported", text, verdict, generation, removed, items)
    if required_facts and not exact_fact_match(text, required_facts, product_names=product_names):
        return GroundedAnswer("incomplete", text, verdict, generation, removed, items)
    return GroundedAnswer("answer", text, verdict, generation, removed, items)


_WORD = re.compile(r"\w{4,}")


def supporting_items(answer: str, items: Sequence[ContextItem]) -> list[ContextItem]:
    """The context items an answer draws on, best first: the ones its citations should name.

    An item supports the answer in proportion to the share of the answer's longer words it
    contains; items within half of the best share are kept, and the best always is.

    Example:
        >>> supporting_items("Refunds take 5 days.", [refunds, shipping])[0] is refunds
        True
    """
    words = {w.lower() for w in _WORD.findall(answer)}
    if not items:
        return []
    if not words:
        return [items[0]]
    shares = [len(words & {w.lower() for w in _WORD.findall(i.text)}) / len(words) for i in items]
    best = max(shares)
    ranked = sorted(range(len(items)), key=lambda k: -shares[k])
    return [items[k] for k in ranked if k == ranked[0] or (best and shares[k] >= best / 2)]


class _Stopped(Exception):
    """The caller stopped waiting for the answer."""


def _stream_sentences(
    generator: Generator,
    prompt: str,
    items: Sequence[ContextItem],
    product_names: Collection[str],
    on_sentence: SentenceSink | None,
    should_stop: Callable[[], bool] | None,
) -> str:
    """Generate piece by piece, passing on each complete sentence that passes the guard."""
    text = ""
    shown = 0
    blocked = on_sentence is None
    pieces = generator.stream(prompt)
    try:
        for piece in pieces:
            if should_stop is not None and should_stop():
                raise _Stopped
            text += piece
            if blocked or on_sentence is None:
                continue
            end = _last_sentence_end(text)
            if end <= shown:
                continue
            so_far = text[:end].strip()
            if is_refusal(so_far) or not check(so_far, items, product_names=product_names).passed:
                blocked = True
                continue
            on_sentence(so_far)
            shown = end
    finally:
        close = getattr(pieces, "close", None)
        if callable(close):
            close()  # frees the model when the answer is abandoned
    return text.strip()


def _last_sentence_end(text: str) -> int:
    """Index just after the last sentence end (". ", "! ", "? " or a newline), or 0."""
    best = 0
    for mark in (". ", "! ", "? ", "\n"):
        found = text.rfind(mark)
        if found >= 0:
            best = max(best, found + 1)
    return best

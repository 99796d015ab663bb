"""Text helpers for the training data: sentences, content words, pronouns, customer wording."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from models.examples import ContextItem


@dataclass(frozen=True)
class QA:
    """A question, its answer, and the one context item the answer comes from.

    ``group`` is what the item belongs to (a document path, an ERP record), so distractors
    come from other groups; ``core`` is the span of the item the answer rests on;
    ``negatives`` are related items that do not answer it (another order of the same kind),
    for refusal examples.
    """

    question: str
    answer: str
    item: ContextItem
    origin: str
    group: str
    facts: tuple[str, ...] = ()
    core: str = ""
    negatives: tuple[ContextItem, ...] = ()


def word_set(text: str) -> frozenset[str]:
    """The words of a whitespace-separated list, kept readable in the source."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing done during each either else even
    ever every few for from further get gets got had has have having he her here hers him his
    how however i if in into is it its itself just least less let like made make many may me
    might more most much must my need needs no nor not now of off often on once one only or
    other our ours out over own per please same she should so some such than that the their
    them then there these they this those through to too under until up upon us use used very
    via was we were what when where whether which while who whom whose why will with within
    without would yes yet you your yours"""
)
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# A sentence ends at . ! or ? followed by space and a capital, digit or quote; abbreviations
# such as "e.g." and "No." are protected first.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "approx.", "No.", "incl.", "vs.", "Mk.", "St.")
_PDF_FOOTER = re.compile(r"\s*Northbridge Supply Help Centre - \S+ - page \d+\s*")
_PROTECT = "\u0000"

# Customer-side wording of company-side pronouns and back ("your order" -> "my order").
_CUSTOMER_PRONOUNS = {
    "you": "I",
    "your": "my",
    "yours": "mine",
    "yourself": "myself",
    "we": "you",
    "our": "your",
    "ours": "yours",
    "us": "you",
}

_OPENERS = (
    "hi, ",
    "hello, ",
    "hey, ",
    "quick question: ",
    "hi there, ",
    "good morning, ",
    "sorry to bother you, ",
    "",
)
_CLOSERS = (" thanks", " thank you", " please", " cheers", " thx", "")


def clean_passage_text(text: str) -> str:
    """The passage without PDF page footers, which are never part of an answer."""
    return _PDF_FOOTER.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage; each line (paragraph, list item, table row) splits on its own."""
    sentences: list[str] = []
    for line in clean_passage_text(text).split("\n"):
        line = line.strip()
        if not line:
            continue
        for abbreviation in _ABBREVIATIONS:
            line = line.replace(abbreviation, abbreviation.replace(".", _PROTECT))
        for sentence in _SENTENCE_END.split(line):
            sentence = sentence.replace(_PROTECT, ".").strip()
            if sentence:
                sentences.append(sentence)
    return sentences


def stem(word: str) -> str:
    """A crude stem, enough to match "returns" with "return" and "delivered" with "delivery"."""
    for suffix in ("ing", "ies", "ied", "ed", "es", "s", "y"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Stemmed lower-case words of ``text`` that are not stop words, in order."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


def lower_first(text: str, *, keep: Iterable[str] = ()) -> str:
    """Lower-case the first letter, unless the first word is a name or an acronym.

    A word counts as a name when it is in ``keep`` or has capitals after its first letter
    ("DPD", "PX-8") or a digit.
    """
    if not text:
        return text
    first = text.split(maxsplit=1)[0].strip("\"'(")
    if not first or first in keep or any(c.isupper() or c.isdigit() for c in first[1:]):
        return text
    if first in ("I", "I'm", "I've") or not first[0].isupper():
        return text
    return text[0].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def to_customer_voice(text: str) -> str:
    """Swap company and customer pronouns: "we email you your invoice" -> "you email me my invoice".

    "you" becomes "me" after a verb or preposition that takes an object and "I" elsewhere;
    "I are" and "I were" are mended.
    """

    def swap(match: re.Match[str]) -> str:
        word = match[0]
        if word.lower() == "you":
            before = text[: match.start()].split()
            previous = before[-1].lower().strip(",;:") if before else ""
            replacement = "me" if previous in _TAKES_OBJECT else "I"
        else:
            replacement = _CUSTOMER_PRONOUNS[word.lower()]
        if word[0].isupper() and replacement != "I":
            return upper_first(replacement)
        return replacement

    pattern = r"\b(?:" + "|".join(_CUSTOMER_PRONOUNS) + r")\b"
    swapped = re.sub(pattern, swap, text, flags=re.IGNORECASE)
    swapped = re.sub(r"\bI are\b", "I am", swapped)
    swapped = re.sub(r"\bI were\b", "I was", swapped)
    return re.sub(
        r"\bI (has|does|is)\b",
        lambda m: {"has": "I have", "does": "I do", "is": "I am"}[m[1]],
        swapped,
    )


_TAKES_OBJECT = word_set(
    """about against at by call contact email for from give help let of on
    remind send sent show tell text to toward with without ask charge invoice refund bill
    notify owe pay thank warn"""
)


def as_question(text: str) -> str:
    """Capitalised, single-spaced and ending in one question mark."""
    text = " ".join(text.split()).rstrip(" .,;:!?")
    return upper_first(text) + "?"


def casual(question: str, rng: random.Random) -> str:
    """How a customer might really type ``question``: greeting, lower case, no "?", a typo.

    Numbers, ids and capitalised names are left alone so the question still names its
    subject exactly.
    """
    text = question
    if rng.random() < 0.45:
        text = lower_first(text)
    if rng.random() < 0.35:
        text = text.rstrip("?")
    if rng.random() < 0.3:
        text = rng.choice(_OPENERS) + lower_first(text)
    if rng.random() < 0.2:
        text = text.rstrip("?") + rng.choice(_CLOSERS)
    if rng.random() < 0.2:
        text = _typo(text, rng)
    if rng.random() < 0.15:
        text = text.replace("you ", "u ").replace("your ", "ur ")
    return " ".join(text.split())


def _typo(text: str, rng: random.Random) -> str:
    """Swap two adjacent letters in one longer lower-case word."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha() and w.islower()]
    if not candidates:
        return text
    index = rng.choice(candidates)
    word = words[index]
    at = rng.randrange(1, len(word) - 2)
    words[index] = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return " ".join(words)


def normalise_question(text: str) -> str:
    """Lower case, words only: two questions that differ in punctuation or case are the same."""
    return " ".join(_WORD.findall(text.lower()))

"""Catalogue products named in a customer's free text: SKUs exactly, names fuzzily.

The message is cut into words; words that only carry the question ("is", "got any", "in
stock", "left") are dropped, plurals and a few spelling variants are folded, and every
remaining word is compared with the words of the catalogue's names (exact for short words and
numbers, up to one or two typos for longer ones). A product scores by how much of its name
the message covers, rare words counting more (IDF), and by how much of the message's
catalogue words its name explains. A clear winner is the answer; several close ones are
offered as choices.

Example:
    >>> lookup = lookup_products("got any White Titanium Widget left?", session=session)
    >>> lookup.product.name
    'White Titanium Widget'
"""

from __future__ import annotations

import math
import re
import threading
import time
import unicodedata
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from erp.inventory import ProductMatch, catalogue_rows

# A product question is a sentence; longer text is not searched at all.
MAX_MESSAGE_CHARS = 300
MAX_WORDS = 40
# Scores are 0-100. A best match at least this good and this far ahead is the answer...
CONFIDENT_SCORE = 72.0
CLEAR_LEAD = 6.0
# ...otherwise matches this good, and within CHOICE_WINDOW of the best, are offered.
MIN_SCORE = 60.0
CHOICE_WINDOW = 12.0
RECALL_WEIGHT = 0.5
# The name index is rebuilt when older than this, so catalogue edits show up.
INDEX_MAX_AGE_SECONDS = 300.0

_SKU_IN_TEXT = re.compile(r"(?<![a-z0-9])([a-z]{3})[\s_.\-]*([0-9]{4})(?![0-9])")
# "0.5m" is one word: without its point it would read as "0" and "5m".
_WORD = re.compile(r"[0-9]+\.[0-9]+[a-z]*|[a-z0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# "need 40 x", "40 pcs of", "qty 12": a quantity, not part of a name.
_QUANTITY = re.compile(
    r"\b(?:\d+\s*(?:x|pcs|pieces|units|off|lots\s+of|boxes\s+of)\b|x\s+\d+\b|qty\s*\d+\b)"
)
# Spellings customers use for the catalogue's words (whole phrases, after lower-casing).
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b{pattern}\b"), replacement)
    for pattern, replacement in (
        (r"(\d+)\s*(?:millimet(?:re|er)s?)", r"\1mm"),
        (r"(\d+)\s*(?:met(?:re|er)s?|mtrs?)", r"\1m"),
        (r"(\d+)\s*(?:lit(?:re|er)s?|ltrs?)", r"\1l"),
        (r"(\d+)\s*(?:volts?)", r"\1v"),
        (r"(\d+)\s*(?:watts?)", r"\1w"),
        (r"(\d+)\s+(mm|m|ml|l|v|w|a|oz|gsm|nm)", r"\1\2"),
        # "USB-C", "PX-4": a one-character suffix belongs to the word ("usbc", "px4").
        (r"([a-z0-9]+)-([a-z0-9])", r"\1\2"),
        (r"zip\s*ties?", "cable tie"),
        (r"ear\s*(?:muffs?|defenders?)", "ear defender"),
        (r"high[\s\-]*vis(?:ibility)?|hi[\s\-]*viz", "hi vis"),
        (r"measuring\s+tape", "tape measure"),
    )
)
_SYNONYMS = {
    "gray": "grey",
    "aluminum": "aluminium",
    "alu": "aluminium",
    "microfiber": "microfibre",
    "organizer": "organiser",
    "centerfeed": "centrefeed",
    "pk": "pack",
    "pck": "pack",
    "pkt": "pack",
    "packet": "pack",
    "pcs": "piece",
    "pc": "piece",
    "pce": "piece",
    "prs": "pair",
    "ctrl": "controller",
}
# Words that carry the question, not the product. The same list is applied to names.
_QUESTION_WORDS = """
    a about all am an and any anything are at available availability be can check could
    currently do does doing for from get got has have having hello hey how i if in inventory
    is it item items its just left like look looking many me much my need needs now of on
    one ones or our please pls plz product products right some stock stocked still tell that
    the there these this those to today u ur us want wanted we what whats which with would
    ya you your x
"""
_STOP_WORDS = frozenset(_QUESTION_WORDS.split())


@dataclass(frozen=True)
class ProductLookup:
    """What a message names: the matches, best first, and the one to take without asking.

    ``product`` is set when one match is clearly the one meant (an SKU, or a name well ahead
    of the rest); otherwise ``matches`` are the choices to offer, and empty means none.
    """

    matches: tuple[ProductMatch, ...]
    product: ProductMatch | None


@dataclass(frozen=True)
class _Entry:
    sku: str
    name: str
    category: str
    words: frozenset[str]
    weight: float


@dataclass(frozen=True)
class _NameIndex:
    entries: tuple[_Entry, ...]
    by_sku: dict[str, int]
    idf: dict[str, float]
    postings: dict[str, tuple[int, ...]]
    # Every key a message word can match: a name word, or two adjacent ones written
    # together ("hivis" for "Hi-Vis"), with the name words it stands for.
    keys: dict[str, tuple[str, ...]]
    key_list: tuple[str, ...]
    built_at: float


_INDEXES: weakref.WeakKeyDictionary[Engine, _NameIndex] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def lookup_products(text: str, *, session: Session, limit: int = 4) -> ProductLookup:
    """Find the catalogue products a customer's message names.

    Args:
        text: The user's whole message (or just the product words of it).
        session: Open database session; the name index is cached per engine.
        limit: Most choices to return.

    Returns:
        The matches, best first, with scores 0-100, and the product to take without asking
        when one is clearly meant. Unknown names, empty, over-long or nonsense text give
        no matches.

    Raises:
        ValueError: ``limit`` is not positive.
    """
    if limit < 1:
        raise ValueError(f"limit must be greater than 0, got {limit}")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE_CHARS:
        return ProductLookup((), None)
    index = _name_index(session)
    cleaned = normalise(text)
    for letters, digits in _SKU_IN_TEXT.findall(cleaned):
        position = index.by_sku.get(f"{letters.upper()}-{digits}")
        if position is not None:
            match = _match(index.entries[position], 100.0)
            return ProductLookup((match,), match)
    ranked = _rank(index, words_of(_QUANTITY.sub(" ", cleaned))[:MAX_WORDS])
    if not ranked:
        return ProductLookup((), None)
    best = ranked[0]
    runner_up = ranked[1].score if len(ranked) > 1 else 0.0
    clear_lead = best.score >= CONFIDENT_SCORE and best.score - runner_up >= CLEAR_LEAD
    # The only name holding every catalogue word the customer used is the one they mean.
    only_complete = (
        best.score >= MIN_SCORE and best.complete and sum(r.complete for r in ranked) == 1
    )
    if clear_lead or only_complete:
        match = _match(best.entry, best.score)
        return ProductLookup((match,), match)
    floor = max(MIN_SCORE, best.score - CHOICE_WINDOW)
    choices = tuple(_match(r.entry, r.score) for r in ranked[:limit] if r.score >= floor)
    return ProductLookup(choices, None)


def normalise(text: str) -> str:
    """Lower-case ``text`` with compatibility forms folded and control characters removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _CONTROL.sub(" ", folded)


def words_of(text: str) -> list[str]:
    """The product words of normalised ``text``: question words dropped, variants folded."""
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    words: list[str] = []
    for raw in _WORD.findall(text):
        if raw in _STOP_WORDS:
            continue
        word = _SYNONYMS.get(raw) or _SYNONYMS.get(_singular(raw)) or raw
        if word not in words:
            words.append(word)
    return words


def clear_name_index() -> None:
    """Forget every cached name index (after reseeding a database in the same process)."""
    with _INDEX_LOCK:
        _INDEXES.clear()


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss") and word[-2].isalpha():
        return word[:-1]
    return word


def _name_index(session: Session) -> _NameIndex:
    """The engine's name index, built on first use and again when it is stale."""
    engine = session.get_bind()
    key = engine if isinstance(engine, Engine) else engine.engine
    with _INDEX_LOCK:
        index = _INDEXES.get(key)
        if index is not None and time.monotonic() - index.built_at < INDEX_MAX_AGE_SECONDS:
            return index
    rows = catalogue_rows(session)
    index = _build_index([(row.sku, row.name, row.category) for row in rows])
    with _INDEX_LOCK:
        _INDEXES[key] = index
    return index


def _build_index(rows: list[tuple[str, str, str]]) -> _NameIndex:
    named = [
        (sku, name, category, list(dict.fromkeys(map(_singular, words_of(normalise(name))))))
        for sku, name, category in rows
    ]
    frequency: dict[str, int] = defaultdict(int)
    for *_, words in named:
        for word in set(words):
            frequency[word] += 1
    idf = {word: math.log(1 + len(named) / count) for word, count in frequency.items()}
    postings: dict[str, list[int]] = defaultdict(list)
    keys: dict[str, tuple[str, ...]] = {word: (word,) for word in frequency}
    entries = []
    for position, (sku, name, category, words) in enumerate(named):
        for word in set(words):
            postings[word].append(position)
        for first, second in zip(words, words[1:], strict=False):
            keys.setdefault(first + second, (first, second))
        entries.append(
            _Entry(sku, name, category, frozenset(words), sum(idf[word] for word in set(words)))
        )
    return _NameIndex(
        entries=tuple(entries),
        by_sku={entry.sku: position for position, entry in enumerate(entries)},
        idf=idf,
        postings={word: tuple(found) for word, found in postings.items()},
        keys=keys,
        key_list=tuple(keys),
        built_at=time.monotonic(),
    )


def _similarity(word: str, key: str) -> float:
    """How alike a message word and a (singular) catalogue word are: 1 equal, 0 unrelated.

    A message word that looks plural is also tried singular, but a typo can look plural
    ("brsas"), so the word as written is tried too.
    """
    singular = _singular(word)
    if singular != word:
        return max(_typo_similarity(word, key), _typo_similarity(singular, key))
    return _typo_similarity(word, key)


def _typo_similarity(word: str, key: str) -> float:
    if word == key:
        return 1.0
    if any(c.isdigit() for c in word + key) or len(word) < 3:
        return 0.0
    if len(word) == 3:
        return 0.85 if key.startswith(word) and len(key) <= 5 else 0.0
    allowed = 1 if len(word) <= 5 else 2
    if abs(len(word) - len(key)) > allowed:
        return 0.0
    # In four letters a changed letter is more often another word ("usba", "usbc") than a
    # typo; a letter missing, doubled or swapped is still taken.
    if len(word) == len(key) == 4 and sorted(word) != sorted(key):
        return 0.0
    distance = OSA.distance(word, key, score_cutoff=allowed)
    return 1.0 - 0.08 * distance if distance <= allowed else 0.0


class _Scored(NamedTuple):
    score: float
    complete: bool  # the name holds every catalogue word of the message
    entry: _Entry


def _rank(index: _NameIndex, words: list[str]) -> list[_Scored]:
    """Score the products the words touch, best first."""
    coverage: dict[str, float] = {}
    # For each message word that is a catalogue word: its weight and what it covers.
    content: list[tuple[float, dict[str, float]]] = []
    named = False
    for term, joined in _terms(index, words):
        hits: dict[str, float] = {}
        # Every key _similarity accepts is within two edits; rapidfuzz finds those quickly.
        near = process.extract(
            term, index.key_list, scorer=OSA.distance, score_cutoff=2, limit=None
        )
        for key, _, _ in near:
            parts = index.keys[key]
            # Words written together are taken only when spelt exactly.
            exact_only = joined or len(parts) > 1
            similarity = (
                float(_singular(term) in (key, _singular(key)))
                if exact_only
                else _similarity(term, key)
            )
            for part in parts if similarity else ():
                hits[part] = max(hits.get(part, 0.0), similarity)
        for part, similarity in hits.items():
            coverage[part] = max(coverage.get(part, 0.0), similarity)
        if hits:
            content.append((max(index.idf[part] for part in hits), hits))
            named = named or any(c.isalpha() for c in term)
    # Numbers alone ("1", "40") name nothing.
    if not named:
        return []
    candidates = {position for part in coverage for position in index.postings[part]}
    total = sum(weight for weight, _ in content)
    ranked = []
    for position in candidates:
        entry = index.entries[position]
        recall = sum(index.idf[w] * coverage.get(w, 0.0) for w in entry.words) / entry.weight
        explained = [max(hits.get(w, 0.0) for w in entry.words) for _, hits in content]
        precision = sum(w * s for (w, _), s in zip(content, explained, strict=True)) / total
        score = 100 * (RECALL_WEIGHT * recall + (1 - RECALL_WEIGHT) * precision)
        complete = all(s > 0 for s in explained)
        ranked.append(_Scored(round(score, 1), complete, entry))
    ranked.sort(key=lambda item: (-item.score, len(item.entry.name), item.entry.sku))
    return ranked


def _terms(index: _NameIndex, words: list[str]) -> list[tuple[str, bool]]:
    """The words to look up, two taken as one where a name writes them together ("usb c").

    Returns:
        (term, joined) pairs; a joined term matches only exactly.
    """
    terms: list[tuple[str, bool]] = []
    position = 0
    while position < len(words):
        if position + 1 < len(words):
            first, second = words[position], words[position + 1]
            pair = first + second
            # "size m 10 pairs" is not "M10": words that are catalogue words stay apart.
            apart = first in index.keys and second in index.keys
            if not apart and len(index.keys.get(_singular(pair), index.keys.get(pair, ()))) == 1:
                terms.append((pair, True))
                position += 2
                continue
        terms.append((words[position], False))
        position += 1
    return terms


def _match(entry: _Entry, score: float) -> ProductMatch:
    return ProductMatch(entry.sku, entry.name, entry.category, score)

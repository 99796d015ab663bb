"""Document questions for the training data, answered with sentences of the company's documents.

Passages are the retrieval index's own chunks (`retrieval.loaders` and `retrieval.chunking`,
no embeddings). Questions come from the documents' structure: FAQ headings, section
headings, table rows, and sentences whose shape gives a question away ("You can return
unopened items within 30 days" -> "Can I return unopened items?"). Answers are sentences of
the passage, wrapped in the company's voice ("Yes — you can …").
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from models import guard
from models.examples import ContextItem
from retrieval.chunking import chunk_document
from retrieval.loaders import document_files, load_document
from retrieval.types import Chunk
from training.questions import (
    QA,
    as_question,
    casual,
    clean_passage_text,
    content_words,
    lower_first,
    split_sentences,
    to_customer_voice,
    upper_first,
    word_set,
)

ROOT = Path(__file__).resolve().parent.parent
DOCS_DIR = ROOT / "data" / "docs"
CUSTOMER_QUESTIONS = ROOT / "data" / "eval" / "document_questions.yml"
MAX_ANSWER_WORDS = 70
MAX_ANSWER_SENTENCES = 3

_PRODUCT_TITLE = re.compile(r"^(?P<name>.+?) \((?P<sku>[A-Z]{3}-\d{4})\)")
_SPEC_KEYS = frozenset({"Property", "Parameter", "Specification", "Setting"})
# First words of table headers that are not noun phrases ("Report within", "Can I …?"):
# their rows are answered as "key: value" pairs rather than "the key is value".
_NOT_NOUN = word_set(
    """can do does is are report sent served suggested free how what when where who why which
    our your applies replace choose best fewer more less handles express"""
)
_IMPERATIVE = word_set(
    """add ask call check choose clean contact email follow go keep make open order pay press
    read remove replace reply report request restart return see send sign stop switch take
    tell turn use wait"""
)
_WE_VERBS = word_set(
    """accept apply assess charge collect deliver email hold inspect invoice issue keep match
    offer open print provide publish recommend refund repair replace report reserve review
    sell send ship stock supply tell use"""
)
_CUT_WORDS = word_set(
    """within for of up to at by in on after before from the a an than over under until
    and or with"""
)
# Pronouns and determiners that point back to something the question cannot see.
_VAGUE = re.compile(r"\b(it|its|them|they|this|these|those|that|such|there)\b", re.IGNORECASE)
OPENERS = (
    "",
    "",
    "",
    "Sure. ",
    "Good question. ",
    "Happy to help: ",
    "Here's what we can tell you: ",
)


@dataclass(frozen=True)
class DocPassage:
    """A chunk of a company document, ready to be shown as context."""

    chunk: Chunk
    item: ContextItem
    first_in_section: bool
    product: str
    sku: str
    words: frozenset[str]

    @property
    def document(self) -> str:
        return self.chunk.citation.document

    @property
    def section(self) -> str:
        return self.chunk.citation.section

    @property
    def title(self) -> str:
        return self.chunk.citation.title


def passage_item(chunk: Chunk) -> ContextItem:
    """How a retrieved chunk is shown to the generator: its citation label and its text."""
    return ContextItem(source=chunk.citation.label, text=chunk.text, ref=chunk.id)


def load_passages(docs_dir: Path = DOCS_DIR) -> list[DocPassage]:
    """Load and chunk every English document with the retrieval code, in a stable order
    (the generator learns English: Chinese versions are left out).

    Raises:
        FileNotFoundError: ``docs_dir`` is not a folder.
    """
    if not docs_dir.is_dir():
        raise FileNotFoundError(f"documents folder not found: {docs_dir}")
    passages: list[DocPassage] = []
    for path in document_files(docs_dir):
        document = load_document(path, docs_dir)
        if document.language != "en":
            continue
        seen_sections: set[tuple[str, ...]] = set()
        for chunk in chunk_document(document):
            match = _PRODUCT_TITLE.match(document.title)
            first = chunk.headings not in seen_sections
            seen_sections.add(chunk.headings)
            text = f"{' '.join(chunk.headings)} {chunk.text}"
            passages.append(
                DocPassage(
                    chunk=chunk,
                    item=passage_item(chunk),
                    first_in_section=first,
                    product=match["name"] if match and path.parent.name == "products" else "",
                    sku=match["sku"] if match and path.parent.name == "products" else "",
                    words=frozenset(content_words(text)),
                )
            )
    return passages


# Answers -----------------------------------------------------------------------------------


def _lead(passage: DocPassage) -> str:
    """The first sentences of a passage, at most a few and about 70 words."""
    chosen: list[str] = []
    words = 0
    for sentence in split_sentences(passage.chunk.text):
        size = len(sentence.split())
        if chosen and (words + size > MAX_ANSWER_WORDS or len(chosen) >= MAX_ANSWER_SENTENCES):
            break
        chosen.append(_row_as_text(sentence) + "." if _row(sentence) else sentence)
        words += size
    return " ".join(chosen)


def _yes_no(text: str) -> str:
    """Turn a leading "Yes." or "No." of an FAQ answer into "Yes — "."""
    match = re.match(r"^(Yes|No)[.,]\s+(.*)$", text, re.DOTALL)
    if match is None:
        return text
    return f"{match[1]} — {lower_first(match[2])}"


def _wrap(text: str, rng: random.Random) -> str:
    opener = rng.choice(OPENERS)
    if not opener or text.startswith(("Yes", "No")):
        return text
    return opener + text


def _facts(answer: str, passage_text: str) -> tuple[str, ...]:
    """The answer's checkable values as written, those the passage text also spells so.

    (A product name taken from the passage's title is left out: it is not a value the
    answer has to get right.)
    """
    seen: dict[str, str] = {}
    for fact in guard.extract_facts(answer):
        if fact.text in passage_text:
            seen.setdefault(fact.key, fact.text)
    return tuple(seen.values())


def _qa(question: str, answer: str, passage: DocPassage, origin: str, core: str) -> QA:
    return QA(
        question=question,
        answer=answer,
        item=passage.item,
        origin=origin,
        group=passage.document,
        facts=_facts(answer, passage.chunk.text),
        core=core,
    )


# Tables ------------------------------------------------------------------------------------


def _row(line: str) -> list[tuple[str, str]] | None:
    """A table row "Key: value; Key: value" as pairs, or None when the line is prose."""
    parts = line.split("; ")
    if len(parts) < 2:
        return None
    pairs: list[tuple[str, str]] = []
    for part in parts:
        key, sep, value = part.partition(": ")
        if not sep or not value.strip() or len(key) > 60 or not key[:1].isupper():
            return None
        pairs.append((key.strip(), value.strip()))
    return pairs


def _row_as_text(line: str) -> str:
    """A row as it reads in an answer: "Weight: 22 g" for property tables, else all pairs."""
    pairs = _row(line) or []
    if len(pairs) == 2 and pairs[0][0] in _SPEC_KEYS and pairs[1][0] == "Value":
        return f"{pairs[0][1]}: {pairs[1][1]}"
    return "; ".join(f"{k}: {v}" for k, v in pairs)


def _is_noun(key: str) -> bool:
    first = key.split()[0].lower()
    return not key.endswith("?") and first not in _NOT_NOUN and not first[:1].isdigit()


def _verb_for(name: str) -> str:
    """ "are" when the first or last word looks plural ("Sockets", "Batteries supplied")."""
    words = re.sub(r"\(.*?\)", "", name).lower().split()
    plural = any(
        w.endswith("s") and not w.endswith(("ss", "us", "is")) for w in words[:1] + words[-1:]
    )
    return "are" if plural else "is"


def _short(value: str) -> bool:
    return len(value.split()) <= 6


def _table_qas(passage: DocPassage, rng: random.Random, keep: frozenset[str]) -> Iterator[QA]:
    for line in clean_passage_text(passage.chunk.text).split("\n"):
        pairs = _row(line)
        if pairs is None:
            continue
        (k1, v1), rest = pairs[0], pairs[1:]
        subject = lower_first(v1, keep=keep)
        if k1 in _SPEC_KEYS and rest[0][0] == "Value" and passage.product:
            value = rest[0][1]
            prop = lower_first(v1, keep=keep)
            thing = rng.choice((f"the {passage.product}", passage.sku))
            question = rng.choice(
                (
                    f"What is the {prop} of {thing}?",
                    f"{upper_first(thing)}: what's the {prop}?",
                    f"Can you tell me the {prop} of {thing}?",
                )
            )
            if _short(value):
                answer = (
                    f"The {prop} of the {passage.product} {_verb_for(prop)} "
                    f"{lower_first(value, keep=keep)}."
                )
            else:
                answer = f"{upper_first(prop)} of the {passage.product}: {value}"
            yield _qa(casual(question, rng), answer, passage, "table-spec", line)
            continue
        targets = [(k, v) for k, v in rest if _is_noun(k)]
        for key, value in rng.sample(targets, min(2, len(targets))):
            key_l = lower_first(key, keep=keep)
            question = rng.choice(
                (
                    f"What is the {key_l} for {subject}?",
                    f"{upper_first(subject)}: what's the {key_l}?",
                    f"Can you tell me the {key_l} for {subject}?",
                )
            )
            if passage.product:
                question = question.rstrip("?") + f" ({passage.product})?"
            if _short(value):
                value_l = lower_first(value, keep=keep)
                answer = f"For {subject}, the {key_l} {_verb_for(key_l)} {value_l}."
            else:
                answer = f"For {subject}, {key_l}: {value}"
            yield _qa(casual(question, rng), answer, passage, "table", line)
        if not targets:
            topic = lower_first(passage.section, keep=keep)
            question = rng.choice(
                (
                    f"{passage.section}: what applies to {subject}?",
                    f"About {topic}: what applies to {subject}?",
                )
            )
            pairs_text = "; ".join(f"{lower_first(k, keep=keep)}: {v}" for k, v in rest)
            answer = f"For {subject} — {pairs_text}."
            yield _qa(casual(question, rng), answer, passage, "table", line)


# Headings ----------------------------------------------------------------------------------


def _heading_questions(passage: DocPassage, keep: frozenset[str]) -> list[str]:
    heading = passage.section
    heading_l = lower_first(heading, keep=keep)
    thing = f" for the {passage.product}" if passage.product else ""
    if heading.endswith("?"):
        return [heading]
    match = re.match(r"^How to (.+)$", heading)
    if match:
        rest = to_customer_voice(match[1])
        return [as_question(f"How do I {rest}{thing}"), as_question(f"How can I {rest}{thing}")]
    match = re.match(r"^(Why|What|When|Where|Who|How long|How) we (\w+)(.*)$", heading)
    if match:
        rest = to_customer_voice(match[3])
        question = as_question(f"{match[1]} do you {match[2]}{rest}{thing}")
        if _VAGUE.search(rest):
            question = f"In your {lower_first(passage.title)}: {lower_first(question)}"
        return [question]
    match = re.match(r"^(What|Which|Who) (you|we) can (.+)$", heading)
    if match:
        subject = "I" if match[2] == "you" else "you"
        return [as_question(f"{match[1]} can {subject} {to_customer_voice(match[3])}")]
    match = re.match(
        r"^(What|How long|How|When|Where|Why) (the [\w\-]+(?: [\w\-]+)?|it|your [\w\-]+) "
        r"(\w+?)(s)\b(.*)$",
        heading,
    )
    if match:
        verb = match[3][:-1] if re.search(r"(ss|sh|ch|x|o)e$", match[3]) else match[3]
        subject = to_customer_voice(match[2])
        rest = to_customer_voice(match[5])
        return [as_question(f"{match[1]} does {subject} {verb}{rest}{thing}")]
    match = re.match(r"^Before (.+)$", heading)
    if match:
        return [as_question(f"What should I do before {to_customer_voice(match[1])}{thing}")]
    if re.match(r"^(What|Which|Who|When|Where|Why|How)\b", heading):
        return [as_question(to_customer_voice(heading) + thing)]
    first = heading.split()[0]
    topic = to_customer_voice(heading_l)
    if len(heading.split()) == 1 and not passage.product:
        topic = f"{topic} in your {lower_first(passage.title)}"
    if first.endswith("ing") and len(first) > 5:
        return [
            as_question(f"How do I go about {topic}{thing}"),
            as_question(f"Can you help me with {topic}{thing}"),
        ]
    return [
        as_question(f"Can you tell me about {topic}{thing}"),
        as_question(f"What should I know about {topic}{thing}"),
        f"Info on {topic}{thing} please",
    ]


def _heading_qas(passage: DocPassage, rng: random.Random, keep: frozenset[str]) -> Iterator[QA]:
    if not passage.first_in_section:
        return
    lead = _lead(passage)
    if not lead:
        return
    if passage.section == passage.title:
        if not passage.product:
            return
        questions = [
            f"What is the {passage.product}?",
            f"What's the {passage.sku} used for?",
            f"Tell me about the {passage.product}",
        ]
        for question in rng.sample(questions, 2):
            yield _qa(casual(question, rng), _wrap(lead, rng), passage, "overview", lead)
        return
    faq = passage.section.endswith("?")
    questions = _heading_questions(passage, keep)
    picked = rng.sample(questions, min(2, len(questions)))
    for index, question in enumerate(picked):
        text = casual(question, rng) if index or not faq else question
        answer = _yes_no(lead) if faq else lead
        yield _qa(text, _wrap(answer, rng), passage, "faq" if faq else "heading", lead)
    if faq:
        yield _qa(casual(passage.section, rng), _wrap(_yes_no(lead), rng), passage, "faq", lead)


# Sentences ---------------------------------------------------------------------------------


def _cut(phrase: str) -> str:
    """The start of a phrase, up to its first clause break or number, as a question's object."""
    phrase = re.split(
        r",|;|:| - | — | \(| if | when | unless | because | so | but | as | and ", phrase
    )[0]
    words = phrase.split()
    for index, word in enumerate(words):
        if any(char.isdigit() for char in word):
            words = words[:index]
            break
    while words and words[-1].lower() in _CUT_WORDS:
        words.pop()
    return " ".join(words)


def _sentence_qa(
    sentence: str, following: str, passage: DocPassage, keep: frozenset[str]
) -> tuple[str, str] | None:
    """A question the sentence answers, and the answer, for the sentence shapes we know."""
    text = sentence.rstrip(".")
    if _row(sentence) or text.endswith(("?", ":")) or len(text.split()) < 5:
        return None
    usable = following and len(following.split()) <= 25 and not following.endswith(":")
    extra = f" {following}" if usable else ""
    thing = f" with the {passage.product}" if passage.product else ""
    rules: tuple[tuple[str, str, str], ...] = (
        (r"^You (?:cannot|can't|can not) (.+)$", "Can I {x}{thing}", "No — you cannot {rest}"),
        (r"^You can ((?:still |also |now |always )?)(.+)$", "Can I {adv}{x}{thing}", ""),
        (r"^You (must|need to|have to) (.+)$", "Do I need to {x}{thing}", ""),
        (r"^We (?:do not|don't) (.+)$", "Do you {x}", "No — we do not {rest}"),
        (r"^We (?:cannot|can't) (.+)$", "Can you {x}", "No — we cannot {rest}"),
        (r"^We can (.+)$", "Can you {x}", "Yes — we can {rest}"),
    )
    for pattern, question_form, answer_form in rules:
        match = re.match(pattern, text)
        if match is None:
            continue
        if question_form.startswith("Can I {adv}"):
            rest = match[2]
            x = to_customer_voice(_cut(rest))
            question = question_form.format(adv=match[1], x=x, thing=thing)
            answer = f"Yes — you can {match[1]}{rest}."
        elif question_form.startswith("Do I need"):
            rest = match[2]
            x = to_customer_voice(_cut(rest))
            question = question_form.format(x=x, thing=thing)
            answer = f"Yes — you {match[1]} {rest}."
        else:
            rest = match[1]
            x = to_customer_voice(_cut(rest))
            question = question_form.format(x=x, thing=thing)
            answer = answer_form.format(rest=rest) + "."
        if len(x.split()) < 2 or _VAGUE.search(x):
            return None
        return as_question(question), answer + extra
    match = re.match(r"^We (\w+?)(s?) (.+)$", text)
    if match and match[1] in _WE_VERBS:
        verb, rest = match[1], match[3]
        if " within " in rest.split(",")[0]:
            obj = to_customer_voice(rest.split(" within ")[0])
            if 1 <= len(obj.split()) <= 8:
                return as_question(f"How quickly do you {verb} {obj}"), sentence + extra
        x = to_customer_voice(f"{verb} {_cut(rest)}").split(" ", 1)[-1]
        if len(x.split()) >= 2 and not _VAGUE.search(x):
            return as_question(f"Do you {verb} {x}"), f"Yes — we {verb}{match[2]} {rest}.{extra}"
    match = re.match(
        r"^((?:The |An? |All |Most |Opened |Unopened )?[\w\- ]{3,40}?) (can|cannot|can't) be "
        r"(\w+(?:ed|en|id|lt))\b(.*)$",
        text,
    )
    if match and not _VAGUE.search(match[1]):
        subject = lower_first(match[1], keep=keep)
        tail = to_customer_voice(_cut(match[4]))
        question = as_question(f"Can {subject} be {match[3]} {tail}")
        yes = "Yes" if match[2] == "can" else "No"
        return question, f"{yes} — {lower_first(text, keep=keep)}.{extra}"
    match = re.match(r"^If (.+?), (.+)$", text)
    if (
        match
        and 3 <= len(match[1].split()) <= 14
        and not _VAGUE.search(match[1])
        and not re.search(r"\b(can|will|must|should|may|could)\b", match[1])
        and not re.match(r"(or|and|but)\b", match[2])
    ):
        condition = to_customer_voice(match[1])
        main = match[2].split()[0].lower()
        ask = "What should I do if" if main in _IMPERATIVE else "What happens if"
        return as_question(f"{ask} {condition}"), sentence + extra
    return None


def _sentence_qas(passage: DocPassage, rng: random.Random, keep: frozenset[str]) -> Iterator[QA]:
    sentences = split_sentences(passage.chunk.text)
    found: list[QA] = []
    for index, sentence in enumerate(sentences):
        following = sentences[index + 1] if index + 1 < len(sentences) else ""
        if _row(following):
            following = ""
        result = _sentence_qa(sentence, following, passage, keep)
        if result is None:
            continue
        question, answer = result
        found.append(_qa(casual(question, rng), _wrap(answer, rng), passage, "sentence", sentence))
    yield from rng.sample(found, min(3, len(found)))


def lowercase_words(passages: Sequence[DocPassage]) -> frozenset[str]:
    """Words that are names: capitalised in the middle of a sentence, never in lower case.

    A capital at the start of a line, a sentence or a table cell says nothing, so only
    words right after a lower-case word count.
    """
    lower: set[str] = set()
    capital: set[str] = set()
    for passage in passages:
        text = passage.chunk.text
        for word in re.findall(r"\b[a-z][a-z]+\b", text):
            lower.add(word)
        for word in re.findall(r"(?<=[a-z,] )[A-Z][a-z]+\b", text):
            capital.add(word)
    return frozenset(w for w in capital if w.lower() not in lower)


def document_qas(passages: Sequence[DocPassage], rng: random.Random) -> list[QA]:
    """Every generated question for the passages, each answered from its own passage."""
    keep = lowercase_words(passages)
    qas: list[QA] = []
    for passage in passages:
        qas += _heading_qas(passage, rng, keep)
        qas += _table_qas(passage, rng, keep)
        qas += _sentence_qas(passage, rng, keep)
    return qas


# Customer questions (held-out only) ------------------------------------------------------


def customer_qas(
    passages: Sequence[DocPassage], rng: random.Random, path: Path = CUSTOMER_QUESTIONS
) -> list[QA]:
    """The hand-written customer questions whose document is among ``passages``.

    The answer is the sentence (or table row) of the named section that shares the most
    rare words and numbers with the question, plus what follows when it is short or ends in
    a colon.

    Raises:
        ValueError: The question file is not shaped as documented.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise ValueError(f"{path}: expected a mapping with a 'questions' list")
    by_section: dict[tuple[str, str], list[DocPassage]] = {}
    for passage in passages:
        by_section.setdefault((passage.document, passage.section), []).append(passage)
    idf = Negatives(passages).idf
    qas: list[QA] = []
    for entry in data["questions"]:
        key = (str(entry.get("document", "")), str(entry.get("section", "")))
        candidates = by_section.get(key)
        if not candidates:
            continue
        question = str(entry["question"])
        best = _best_sentence(question, candidates, idf)
        if best is None:
            continue
        passage, sentences = best
        answer = " ".join(_row_as_text(s) + "." if _row(s) else s for s in sentences)
        qas.append(_qa(question, _wrap(_yes_no(answer), rng), passage, "customer", sentences[0]))
    return qas


def _best_sentence(
    question: str, candidates: Sequence[DocPassage], idf: dict[str, float]
) -> tuple[DocPassage, list[str]] | None:
    """The passage and sentences that answer ``question`` best, by shared rare words."""
    asked = set(content_words(question))
    numbers = {f.key for f in guard.extract_facts(question)}
    best: tuple[float, DocPassage, list[str]] | None = None
    for passage in candidates:
        sentences = split_sentences(passage.chunk.text)
        for index, sentence in enumerate(sentences):
            words = set(content_words(sentence))
            score = sum(idf.get(w, 1.0) for w in sorted(asked & words))
            score += 2.0 * len(numbers & guard.support_keys(sentence))
            if best is not None and score <= best[0]:
                continue
            chosen = [sentence]
            for following in sentences[index + 1 : index + 4]:
                if not chosen[-1].endswith(":") and len(" ".join(chosen).split()) >= 12:
                    break
                chosen.append(following)
            best = (score, passage, chosen)
    return None if best is None else (best[1], best[2])


# Hard negatives ----------------------------------------------------------------------------


class Negatives:
    """Finds passages that look related to a question but come from another document.

    Candidates are ranked by IDF-weighted word overlap with the question. A candidate that
    might answer it after all is dropped: it repeats a number or value of the answer, holds
    most of the answer's words, or holds nearly all of the question's words.
    """

    def __init__(self, passages: Sequence[DocPassage]) -> None:
        self.passages = list(passages)
        frequency = Counter(word for passage in self.passages for word in passage.words)
        total = max(len(self.passages), 1)
        self.idf = {word: math.log(total / count) for word, count in frequency.items()}
        self._keys: dict[str, frozenset[str]] = {}

    def _facts_of(self, passage: DocPassage) -> frozenset[str]:
        keys = self._keys.get(passage.item.ref)
        if keys is None:
            keys = self._keys[passage.item.ref] = guard.support_keys(passage.chunk.text)
        return keys

    def related(
        self, question: str, *, exclude_group: str, answer: str, core: str, limit: int
    ) -> list[DocPassage]:
        """Up to ``limit`` related passages from other documents that do not answer."""
        asked = set(content_words(question))
        if not asked:
            return []
        core_words = set(content_words(core))
        answer_keys = {fact.key for fact in guard.extract_facts(answer)}
        scored = sorted(
            (
                (-sum(self.idf.get(w, 0.0) for w in sorted(asked & p.words)), index)
                for index, p in enumerate(self.passages)
                if p.document != exclude_group and asked & p.words
            )
        )
        chosen: list[DocPassage] = []
        for _, index in scored[: limit * 8]:
            passage = self.passages[index]
            if len(asked & passage.words) >= 0.7 * len(asked):
                continue
            if core_words and len(core_words & passage.words) >= 0.5 * len(core_words):
                continue
            if answer_keys and answer_keys & self._facts_of(passage):
                continue
            chosen.append(passage)
            if len(chosen) == limit:
                break
        return chosen


def spec_negatives(qa: QA, passages: Sequence[DocPassage], limit: int) -> list[ContextItem]:
    """Specification passages of other products for a question about one product's spec."""
    asked = next((p for p in passages if p.item.ref == qa.item.ref), None)
    if asked is None:
        return []
    names = (asked.product.lower(), asked.sku.lower())
    others = [
        p.item
        for p in passages
        if p.product
        and p.document != asked.document
        and p.section == asked.section
        and not any(name in (p.item.text + p.item.source).lower() for name in names)
    ]
    return others[:limit]


# Off-topic questions: nothing in the documents or the ERP answers them.
OFF_TOPIC_QUESTIONS = (
    "What's the weather going to be like in Manchester tomorrow?",
    "Who won the football last night?",
    "Can you recommend a good restaurant near your Leipzig warehouse?",
    "What is the share price of Northbridge Supply today?",
    "How do I make a sourdough starter?",
    "Can you write me a poem about widgets?",
    "What's the capital of Australia?",
    "How much does a flight from Manchester to Rotterdam cost?",
    "What is your CEO's salary?",
    "Can you help me with my maths homework?",
    "Which phone should I buy this year?",
    "What time does the Rotterdam zoo open?",
    "Do you offer pet insurance?",
    "Can you book me a hotel in Leipzig?",
    "What's the best programming language to learn?",
    "How do I cook a Sunday roast?",
    "Is it going to rain at the weekend?",
    "What's the exchange rate between bitcoin and euros?",
    "Can you tell me a joke?",
    "Who is the prime minister of the Netherlands?",
    "What's the best way to learn German?",
    "Can you recommend a good accountant?",
    "Do you do mortgages?",
    "What films are on at the cinema tonight?",
    "How do I fix a dripping tap at home?",
    "What's the speed limit on German motorways?",
    "Can you translate my CV into Dutch?",
    "What do you think about the election?",
    "How tall is the Eiffel Tower?",
    "Do you have any job vacancies in sales?",
    "What's the WiFi password at your office?",
    "Can you order me a pizza?",
    "Who designed your logo?",
    "What was your company's profit last year?",
    "Can you recommend a holiday destination?",
    "What's the recipe for your office coffee?",
    "Which football team does your support team follow?",
    "How do I train for a marathon?",
    "What's a good name for my new puppy?",
    "Can you explain how black holes form?",
    "Where can I watch the Formula 1 race this weekend?",
    "How do I change a tyre on my bike?",
    "Who wrote Pride and Prejudice?",
    "How do I register a car in Germany?",
    "Can you help me file my personal tax return?",
)

"""Frustration classifier for user turns, trained by the project on data it ships.

A logistic regression over word 1-2-grams, character 2-5-grams, a few style features
(capitals, "!!", "??", stretched letters) and VADER's lexicon scores (vaderSentiment ships its
lexicon in the wheel) learns from data/handoff/frustration.yml, in English and Simplified
Chinese. Text is read NFKC-folded (full-width "！！", "？？" and ＳＯ－１２３ as "!!", "??" and
SO-123), with a space between Chinese characters and Latin letters or digits, so order
numbers inside Chinese sentences become references like in English ones. Chinese has no
spaces: its words for the word n-grams come from jieba (loaded on first use), the character
n-grams see it as it is; VADER is English-only and scores Chinese as neutral. Style features
are kept apart by language and each language's classes are balanced on their own, so the
Chinese examples leave the English weights and scores (nearly) as they were. It
trains in about a second, at first use or with ``python -m connectors.handoff.sentiment
train``, and is kept in var/handoff/ with a fingerprint of the data, so changing the data
retrains it. Nothing is downloaded.

``python -m connectors.handoff.sentiment evaluate`` reports precision and recall of the
"frustrated" class on a held-out split (the figures in docs/benchmarks.md), overall and per
language (a message with any Chinese character counts as Chinese).

Usage::

    classifier = FrustrationClassifier()
    classifier.score("WHERE IS MY ORDER, third time asking!!")   # 0.97
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from connectors.handoff.errors import InvalidHandoffInput

logger = logging.getLogger("connectors")

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT / "data" / "handoff" / "frustration.yml"
DEFAULT_MODEL = ROOT / "var" / "handoff" / "frustration.joblib"
LABELS = ("calm", "frustrated")
SEED = 42
HELD_OUT = 0.25
MODEL_VERSION = 5

_WORD = re.compile(r"[A-Za-z]{2,}")
# Chinese (CJK unified ideographs, extension A, compatibility ideographs), as in
# bot/components/mixed_tokenizer.py.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_CHAR = re.compile(f"[{_HAN}]")
_HAN_RUN = re.compile(f"[{_HAN}]+")
# Where a Chinese character meets a letter or digit ("订单SO-100123发货", "等了3周").
_SCRIPT_BOUNDARY = re.compile(rf"(?<=[{_HAN}])(?=[^\W{_HAN}])|(?<=[^\W{_HAN}])(?=[{_HAN}])")
# A run of Chinese characters, or a token as scikit-learn's default token_pattern finds it
# (two or more word characters; Chinese is split from letters and digits by ``folded``).
_TOKEN = re.compile(rf"[{_HAN}]+|\b\w\w+\b")
_STRETCHED = re.compile(r"([a-z])\1{2,}", re.IGNORECASE)
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.\w+")
# Tokens with a digit in them: order and invoice numbers, SKUs, postcodes, amounts.
_REFERENCE = re.compile(r"[#£€$]?\b[\w-]*\d[\w-]*\b")


def is_chinese(text: str) -> bool:
    """Whether ``text`` has any Chinese character (the language split of the evaluation)."""
    return bool(_HAN_CHAR.search(text))


LANGUAGES = ("en", "zh")


def language(text: str) -> str:
    """The language of a message: "zh" when it has any Chinese character, else "en"."""
    return "zh" if is_chinese(text) else "en"


def folded(text: str) -> str:
    """``text`` NFKC-folded (full-width letters, digits and punctuation as ASCII) and, when it
    has Chinese, with a space where Chinese characters meet letters or digits, so "订单SO-1发货"
    reads "订单 SO-1 发货" (Chinese characters are word characters to ``\\b``). English text
    comes back unchanged but for NFKC."""
    text = unicodedata.normalize("NFKC", text)
    return _SCRIPT_BOUNDARY.sub(" ", text) if is_chinese(text) else text


def normalise(text: str) -> str:
    """Emails and references replaced by placeholders, so the model learns the words around
    them, not which order number an angry example happened to mention. Case is kept."""
    return _REFERENCE.sub(" REF ", _EMAIL.sub(" EMAIL ", folded(text)))


def has_words(text: str) -> bool:
    """Whether the message has words at all once emails and references are taken out (an
    answer such as "SW1A 1AA", "ＳＯ－１２３" or "jo@example.com" carries no feeling to score);
    one Chinese character is a word."""
    rest = _REFERENCE.sub(" ", _EMAIL.sub(" ", folded(text)))
    return bool(_WORD.search(rest) or _HAN_CHAR.search(rest))


def _lower_normalised(text: str) -> str:
    return normalise(text).lower()


@functools.cache
def _jieba() -> Any:
    """jieba with its dictionary loaded (under a second from its cache; jieba locks)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokens(text: str) -> list[str]:
    """The word tokens of a (preprocessed) message for the word n-grams: for English exactly
    what scikit-learn's default token pattern finds; each run of Chinese characters cut into
    words by jieba (the default pattern would keep a whole clause as one token).

    Example:
        >>> tokens("where is REF?? 怎么又错了!!")
        ['where', 'is', 'REF', '怎么', '又', '错', '了']
    """
    found: list[str] = []
    for token in _TOKEN.findall(text):
        if is_chinese(token):
            found.extend(word for word in _jieba().lcut(token) if word.strip())
        else:
            found.append(token)
    return found


@dataclass(frozen=True)
class Examples:
    """Labelled messages: ``labels[i]`` is 1 when ``texts[i]`` is frustrated."""

    texts: list[str]
    labels: list[int]


def load_examples(path: Path = DEFAULT_DATA) -> Examples:
    """Read the labelled messages.

    Raises:
        InvalidHandoffInput: the file is missing, or not a mapping with the two label lists
            of strings.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidHandoffInput(f"cannot read frustration data {path}: {error}") from None
    if not isinstance(data, dict):
        raise InvalidHandoffInput(f"{path} must be a mapping with 'frustrated' and 'calm' lists")
    texts: list[str] = []
    labels: list[int] = []
    for label, name in enumerate(LABELS):
        items = data.get(name)
        if not isinstance(items, list) or not items:
            raise InvalidHandoffInput(f"{path}: '{name}' must be a non-empty list of messages")
        for item in items:
            if not isinstance(item, str) or not item.strip():
                raise InvalidHandoffInput(
                    f"{path}: every '{name}' entry must be text, got {item!r}"
                )
            texts.append(item.strip())
            labels.append(label)
    return Examples(texts, labels)


def style_features(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Shouting and exasperation markers a bag of lower-cased words cannot see.

    Six columns for an English message: share of words in capitals, "!" runs, "?" runs of two
    or more, "?!" mixes, stretched letters ("argh", "sooo"), and whether the message is one
    word; zeros for a Chinese one. Then the same six for a Chinese message (zeros for an
    English one), but for the last: 1, the language. Full-width "！！" and "？？" count as "!!"
    and "??". Kept apart by language, the English weights learn from English messages only
    (Chinese ones have no capitals and few Latin words, so would all look like one-word
    messages) and the model gets a bias of its own for Chinese, where VADER sees nothing.
    """
    rows = []
    for raw in texts:
        text = folded(raw)
        words = _WORD.findall(_REFERENCE.sub(" ", _EMAIL.sub(" ", text)))
        shouted = sum(1 for w in words if w.isupper() and len(w) >= 3)
        markers = [
            shouted / len(words) if words else 0.0,
            min(text.count("!"), 4) / 4,
            1.0 if "??" in text else 0.0,
            1.0 if "?!" in text or "!?" in text else 0.0,
            1.0 if _STRETCHED.search(text) else 0.0,
        ]
        if is_chinese(text):
            rows.append([0.0] * 6 + markers + [1.0])
        else:
            rows.append(markers + [1.0 if len(words) <= 1 else 0.0] + [0.0] * 6)
    return np.asarray(rows, dtype=np.float64)


@functools.cache
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def lexicon_features(texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """VADER's negative, positive and compound scores, and the compound's negative part."""
    rows = []
    for text in texts:
        scores = _vader().polarity_scores(text)
        compound = scores["compound"]
        rows.append([scores["neg"], scores["pos"], compound, max(0.0, -compound)])
    return np.asarray(rows, dtype=np.float64)


# Function words with no feeling of their own: a short message with one of them should not
# lean on how often frustrated examples happen to say "and" or "the".
STOP_WORDS = (
    "a", "an", "and", "the", "to", "of", "in", "on", "for", "at", "with", "from", "by", "as",
    "or", "is", "it", "be", "are", "was", "were", "i", "my", "me", "we", "our", "us", "this",
    "that", "these", "those", "if", "so",
)  # fmt: skip
# Chinese sentence particles, for the same reason: "了" ends "太离谱了" and "货今天早上到了"
# alike, and short calm messages leaned on it.
CHINESE_STOP_WORDS = ("了", "的", "啊", "呀", "吧", "哈", "嘛", "哦", "嗯")


def build_pipeline(c: float = 10.0, *, min_df: int = 1) -> Any:
    """The untrained scikit-learn pipeline (imported here: nothing heavy at import time).

    Fit it with ``fit``, which weighs the classes of each language, not the classifier's
    ``class_weight``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    preprocessor=_lower_normalised,
                    tokenizer=tokens,
                    token_pattern=None,
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    stop_words=[*STOP_WORDS, *CHINESE_STOP_WORDS],
                    min_df=min_df,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    preprocessor=_lower_normalised,
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    sublinear_tf=True,
                ),
            ),
            ("style", FunctionTransformer(style_features)),
            ("lexicon", FunctionTransformer(lexicon_features)),
        ]
    )
    classifier = LogisticRegression(C=c, max_iter=2000, random_state=SEED)
    return Pipeline([("features", features), ("classifier", classifier)])


def sample_weights(
    texts: Sequence[str], labels: Sequence[int]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Class weights "balanced" within each language: n_lang / (2 * n_lang_class).

    For English they are the weights the English-only file had; balancing over all messages
    instead would let the share of frustrated Chinese examples shift every English score.
    """
    langs = np.asarray([language(t) for t in texts])
    truth = np.asarray(labels)
    weights = np.ones(len(truth), dtype=np.float64)
    for lang in LANGUAGES:
        in_lang = langs == lang
        for label in (0, 1):
            chosen = in_lang & (truth == label)
            if chosen.any():
                weights[chosen] = in_lang.sum() / (2 * chosen.sum())
    return weights


def fit(texts: Sequence[str], labels: Sequence[int], c: float = 10.0) -> Any:
    """A pipeline trained on ``texts``, each language's classes balanced (``sample_weights``)."""
    pipeline = build_pipeline(c)
    pipeline.fit(list(texts), list(labels),
                 classifier__sample_weight=sample_weights(texts, labels))  # fmt: skip
    return pipeline


def fingerprint(path: Path) -> str:
    """What the model was trained on: the data file's hash and the model version."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"v{MODEL_VERSION}:{digest}"


def train(data: Path = DEFAULT_DATA, model: Path = DEFAULT_MODEL) -> Any:
    """Train on every example in ``data`` and save the pipeline to ``model``; return it."""
    import joblib

    examples = load_examples(data)
    pipeline = fit(examples.texts, examples.labels)
    model.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so a gateway starting meanwhile never reads half a file.
    partial = model.with_name(f"{model.name}.{os.getpid()}.tmp")
    joblib.dump({"fingerprint": fingerprint(data), "pipeline": pipeline}, partial)
    os.replace(partial, model)
    logger.info("frustration model trained on %d messages, saved to %s",
                len(examples.texts), model)  # fmt: skip
    return pipeline


def load_or_train(data: Path = DEFAULT_DATA, model: Path = DEFAULT_MODEL) -> Any:
    """The saved pipeline when it was trained on this data, otherwise a freshly trained one."""
    import joblib

    if model.is_file():
        try:
            saved = joblib.load(model)
            if saved.get("fingerprint") == fingerprint(data):
                return saved["pipeline"]
        except Exception as error:  # an unreadable or foreign file: retrain over it
            logger.warning("frustration model %s unusable (%r); retraining", model, error)
    return train(data, model)


class FrustrationClassifier:
    """Scores how frustrated a message sounds, 0 to 1; loads or trains on first use.

    Thread-safe; the model is built once per instance.

    Example:
        >>> FrustrationClassifier().score("thanks, that's great") < 0.5
        True
    """

    def __init__(self, data: Path = DEFAULT_DATA, model: Path = DEFAULT_MODEL) -> None:
        self.data = data
        self.model = model
        self._pipeline: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load (or train) the model, and jieba's dictionary, now instead of on the first
        (Chinese) message."""
        with self._lock:
            if self._pipeline is None:
                self._pipeline = load_or_train(self.data, self.model)
                _jieba()

    def score(self, text: str) -> float:
        """The probability that ``text`` is a frustrated message (0 when it has no words)."""
        if not has_words(text):
            return 0.0
        self.warm_up()
        probabilities = self._pipeline.predict_proba([text])[0]
        return float(probabilities[1])


@dataclass(frozen=True)
class Report:
    """Held-out figures for the frustrated class at one threshold, for one language or all."""

    threshold: float
    precision: float
    recall: float
    f1: float
    false_positive_rate: float
    train_size: int
    test_size: int
    language: str = "all"


def evaluate(
    data: Path = DEFAULT_DATA,
    thresholds: Sequence[float] = (0.5, 0.6, 0.65, 0.7, 0.8),
    *,
    seed: int = SEED,
    held_out: float = HELD_OUT,
) -> list[Report]:
    """Train on a stratified split of ``data`` and score the held-out part at each threshold."""
    return evaluate_by_language(data, thresholds, seed=seed, held_out=held_out)["all"]


def evaluate_by_language(
    data: Path = DEFAULT_DATA,
    thresholds: Sequence[float] = (0.5, 0.6, 0.65, 0.7, 0.8),
    *,
    seed: int = SEED,
    held_out: float = HELD_OUT,
) -> dict[str, list[Report]]:
    """``evaluate``'s figures for all messages ("all") and for each language ("en", "zh").

    Each language is split on its own (stratified by label, same seed), then the parts are
    joined: the English test set is the one an English-only file would give, so adding
    Chinese examples leaves it as it was and English figures stay comparable.
    """
    from sklearn.model_selection import train_test_split

    examples = load_examples(data)
    train_x: list[str] = []
    train_y: list[int] = []
    test_x: list[str] = []
    test_y: list[int] = []
    for lang in LANGUAGES:
        pairs = [(t, y) for t, y in zip(examples.texts, examples.labels, strict=True)
                 if language(t) == lang]  # fmt: skip
        if not pairs:
            continue
        texts = [t for t, _ in pairs]
        labels = [y for _, y in pairs]
        part = train_test_split(
            texts, labels, test_size=held_out, stratify=labels, random_state=seed
        )
        train_x += part[0]
        test_x += part[1]
        train_y += part[2]
        test_y += part[3]
    pipeline = fit(train_x, train_y)
    scores = pipeline.predict_proba(test_x)[:, 1]
    truth = np.asarray(test_y)
    langs = np.asarray([language(t) for t in test_x])
    trained = [language(t) for t in train_x]
    found = {}
    for name in ("all", *LANGUAGES):
        mask = np.ones(len(test_x), dtype=bool) if name == "all" else langs == name
        if not mask.any():
            continue
        train_size = len(train_x) if name == "all" else trained.count(name)
        found[name] = [
            _report(scores[mask], truth[mask], threshold, train_size, name)
            for threshold in thresholds
        ]
    return found


def _report(
    scores: np.ndarray[Any, np.dtype[np.float64]],
    truth: np.ndarray[Any, np.dtype[np.int_]],
    threshold: float,
    train_size: int,
    lang: str,
) -> Report:
    predicted = scores >= threshold
    true_positive = int(np.sum(predicted & (truth == 1)))
    false_positive = int(np.sum(predicted & (truth == 0)))
    false_negative = int(np.sum(~predicted & (truth == 1)))
    precision = true_positive / max(1, true_positive + false_positive)
    recall = true_positive / max(1, true_positive + false_negative)
    return Report(
        threshold=threshold,
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / max(1e-9, precision + recall),
        false_positive_rate=false_positive / max(1, int(np.sum(truth == 0))),
        train_size=train_size,
        test_size=len(truth),
        language=lang,
    )


_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def assistant_messages(
    nlu_dir: Path = ROOT / "data" / "nlu", exclude: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(intent, text) of the assistant's own NLU examples, but for asking for a person.

    A second test set from outside the labelled file: everyday messages to this bot, the
    great majority calm, none used in training (``exclude`` removes any that are). Every
    ``*.yml`` file is read, so the Chinese ones (nlu_zh_*.yml) too; a line with no words
    (``has_words``: no Latin word and no Chinese character once references are out) is left
    out. ``language`` tells the two apart.
    """
    skip = {text.lower() for text in exclude}
    found = []
    for path in sorted(nlu_dir.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            intent = item.get("intent")
            if not intent or intent == "request_human":
                continue
            for line in str(item.get("examples") or "").splitlines():
                text = _ANNOTATION.sub(r"\1", line.strip().removeprefix("- ").strip())
                if text and text.lower() not in skip and has_words(text):
                    found.append((str(intent), text))
    return found


def main(argv: Sequence[str] | None = None) -> None:
    """``train`` saves the model; ``evaluate`` prints held-out precision and recall."""
    parser = argparse.ArgumentParser(prog="python -m connectors.handoff.sentiment")
    parser.add_argument("command", choices=["train", "evaluate"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    if args.command == "train":
        train(args.data, args.model)
        print(f"trained on {len(load_examples(args.data).texts)} messages -> {args.model}")
        return
    by_language = evaluate_by_language(args.data)
    first = by_language["all"][0]
    print(
        f"frustration classifier, held-out {HELD_OUT:.0%} split stratified by label within each "
        f"language (seed {SEED}): {first.train_size} train / {first.test_size} test messages"
    )
    titles = {"all": "All messages", "en": "English", "zh": "Chinese (any Chinese character)"}
    for name, reports in by_language.items():
        head = reports[0]
        print(f"\n{titles[name]}: {head.train_size} train / {head.test_size} test messages")
        print("| threshold | precision | recall | F1 | calm messages escalated |")
        print("|---|---|---|---|---|")
        for r in reports:
            print(f"| {r.threshold:.2f} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} "
                  f"| {r.false_positive_rate:.1%} |")  # fmt: skip
    examples = load_examples(args.data)
    pipeline = fit(examples.texts, examples.labels)
    messages = assistant_messages(exclude=examples.texts)
    scores = pipeline.predict_proba([text for _, text in messages])[:, 1]
    print(
        f"\nThe assistant's own NLU examples (data/nlu, {len(messages)} messages of every intent "
        "but request_human, none in the training file), model trained on the whole file:"
    )
    langs = [language(text) for _, text in messages]
    for name in ("all", *LANGUAGES):
        chosen = [
            (float(score), text)
            for score, (_, text), lang in zip(scores, messages, langs, strict=True)
            if name in ("all", lang)
        ]
        if not chosen:
            continue
        print(f"{titles[name]} ({len(chosen)} messages):")
        for threshold in (0.5, 0.65):
            flagged = sorted(((score, text) for score, text in chosen if score >= threshold),
                             reverse=True)  # fmt: skip
            print(f"- scored >= {threshold:.2f}: {len(flagged)} "
                  f"({len(flagged) / len(chosen):.1%})")  # fmt: skip
        print("  highest: " + "; ".join(f"{text!r} {score:.2f}" for score, text in flagged[:8]))


if __name__ == "__main__":
    main()

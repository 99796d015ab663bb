"""`make bench-nlu-zh`: the assistant's own NLU on held-out Chinese and English utterances.

Each variant of the pipeline is trained on the bot's training data (data/nlu, both
languages; ``before``: the English files only) with `rasa train nlu`, then parses two test
sets written independently of that data and never trained on: data/eval/nlu_zh_test.yml
(Chinese, a quarter code-switched) and data/eval/nlu_en_test.yml (English, to see that
Chinese costs English nothing); an utterance the training data holds too is left out.
Variants:

- ``before``: the pipeline and data before Chinese (the English figure to keep);
- ``whitespace``: config.yml with Rasa's WhitespaceTokenizer (the tokenizer before Chinese);
- ``chars``: the mixed-script tokenizer cutting Chinese into single characters;
- ``jieba``: config.yml as the bot runs it (jieba words);
- ``jieba-no-encoder``: jieba without the sentence encoder (character n-grams only), to see
  what all-mpnet-base-v2 adds on Chinese;
- ``jieba-e5``: config.yml with multilingual-e5-small beside it for the Chinese regression.

Intent accuracy counts a fallback (nlu_fallback) as wrong. Entities are scored on (entity,
value) pairs, values compared after NFKC (a full-width id typed is the id) and the gold
values mapped through the training data's synonyms (蓝色小部件 is the blue widget). Results go to
var/results/bench-nlu-zh/ and the report to stdout (docs/benchmarks.md, "Chinese NLU").
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.nlu import ENCODER_COMPONENT, Example, machine, parse, train_nlu
from bot import paths

WORK_DIR = paths.VAR / "bench-nlu-zh"
RESULTS_DIR = paths.VAR / "results" / "bench-nlu-zh"
TEST_SETS = {
    "zh": paths.ROOT / "data" / "eval" / "nlu_zh_test.yml",
    "en": paths.ROOT / "data" / "eval" / "nlu_en_test.yml",
}
TRAINING_DIR = paths.ROOT / "data" / "nlu"
TOKENIZER = "bot.components.mixed_tokenizer.MixedScriptTokenizer"
FOLDED_REGEX = "bot.components.folded_regex.FoldedRegexFeaturizer"
E5_DIR = "var/encoders/multilingual-e5-small"
# Variants trained on the English training data only (the assistant before Chinese).
ENGLISH_ONLY = frozenset({"before"})
FALLBACK = "nlu_fallback"

# [value](entity) or [value]{"entity": ..., "value": ...}
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]*\}))")
_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True)
class Labelled:
    """A test utterance: its text, intent and the (entity, value) pairs in it."""

    text: str
    intent: str
    entities: tuple[tuple[str, str], ...] = field(default=())


def _fold(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def parse_example(line: str, intent: str) -> Labelled:
    """One Rasa training-format line: markup removed, entities kept (value synonyms too)."""
    entities: list[tuple[str, str]] = []

    def plain(match: re.Match[str]) -> str:
        text = match.group("text")
        if match.group("name"):
            name, value = match.group("name").split(":")[0], text
        else:
            spec = json.loads(match.group("json"))
            name, value = spec["entity"], str(spec.get("value", text))
        entities.append((name, _fold(value)))
        return text

    return Labelled(_ANNOTATION.sub(plain, line), intent, tuple(entities))


def load_test_set(path: Path) -> list[Labelled]:
    """The labelled utterances of a Rasa NLU YAML file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = []
    for block in data.get("nlu") or []:
        if "intent" not in block:
            continue
        for line in str(block["examples"]).splitlines():
            line = line.strip()
            if line.startswith("- "):
                examples.append(parse_example(line[2:].strip(), block["intent"]))
    return examples


def _key(text: str) -> str:
    """An utterance compared with others: NFKC, case, spaces and punctuation ignored."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())


def synonyms(folder: Path = TRAINING_DIR) -> dict[str, str]:
    """What the training data maps entity values to (``synonym`` blocks and annotations with
    a ``value``), folded: the test's gold values are compared as the bot normalises them."""
    mapping: dict[str, str] = {}
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if "synonym" in block:
                for line in str(block["examples"]).splitlines():
                    if line.strip().startswith("- "):
                        mapping[_fold(line.strip()[2:])] = _fold(str(block["synonym"]))
            elif "intent" in block:
                for match in _ANNOTATION.finditer(str(block["examples"])):
                    if match.group("json"):
                        value = json.loads(match.group("json")).get("value")
                        if value is not None:
                            mapping[_fold(match.group("text"))] = _fold(str(value))
    return mapping


def training_texts(folder: Path = TRAINING_DIR) -> set[str]:
    """The keys of every training utterance in ``folder``."""
    return {
        _key(example.text)
        for path in sorted(folder.glob("*.yml"))
        for example in load_test_set(path)
    }


def held_out(examples: Sequence[Labelled], seen: set[str]) -> list[Labelled]:
    """``examples`` without those the training data holds too (short phrases like 你好 or
    转人工 are written the same by anyone): a test counts only utterances never trained on."""
    return [e for e in examples if _key(e.text) not in seen]


def code_switched(text: str) -> bool:
    """Chinese with English words in it (ids, emails and numbers aside)."""
    rest = re.sub(r"\S+@\S+|[A-Za-z]{0,4}[-# ]?\d[\w-]*", " ", text)
    return bool(_HAN.search(rest) and _LATIN_WORD.search(rest))


def full_width(text: str) -> bool:
    """Whether ``text`` has full-width letters or digits (ＳＯ－１００１２３)."""
    return re.search("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]", text) is not None


def _of_intent(intent: str) -> Callable[[Labelled], bool]:
    return lambda example: example.intent == intent


def score(
    examples: Sequence[Labelled],
    records: Sequence[dict[str, Any]],
    mapped: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Intent accuracy (overall, per subset, per intent) and entity precision/recall/F1
    (gold values through the training data's synonyms, ``mapped``)."""
    mapped = mapped or {}

    def accuracy(keep: Callable[[Labelled], bool]) -> dict[str, Any]:
        pairs = [(e, r) for e, r in zip(examples, records, strict=True) if keep(e)]
        right = sum(1 for e, r in pairs if r["intent"] == e.intent)
        return {"n": len(pairs), "accuracy": right / len(pairs) if pairs else None}

    gold_entities: Counter[tuple[str, str]] = Counter()
    found_entities: Counter[tuple[str, str]] = Counter()
    matched = 0
    for example, record in zip(examples, records, strict=True):
        gold = Counter((name, mapped.get(value, value)) for name, value in example.entities)
        found = Counter(
            (str(e["entity"]), _fold(str(e["value"]))) for e in record.get("entities") or []
        )
        gold_entities.update(gold)
        found_entities.update(found)
        matched += sum((gold & found).values())
    precision = matched / sum(found_entities.values()) if found_entities else 0.0
    recall = matched / sum(gold_entities.values()) if gold_entities else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    per_intent = {
        intent: accuracy(_of_intent(intent))["accuracy"]
        for intent in sorted({e.intent for e in examples})
    }
    errors = Counter(
        f"{e.intent} -> {r['intent']}"
        for e, r in zip(examples, records, strict=True)
        if r["intent"] != e.intent
    )
    return {
        "intent": accuracy(lambda e: True),
        "code_switched": accuracy(lambda e: code_switched(e.text)),
        "full_width": accuracy(lambda e: full_width(e.text)),
        "fallbacks": sum(1 for r in records if r["intent"] == FALLBACK),
        "entities": {"precision": precision, "recall": recall, "f1": f1},
        "per_intent": per_intent,
        "top_errors": errors.most_common(8),
    }


# --- variants ---------------------------------------------------------------------------


def _pipeline() -> list[dict[str, Any]]:
    return list(yaml.safe_load(paths.CONFIG_FILE.read_text())["pipeline"])


def _with_tokenizer(component: dict[str, Any]) -> list[dict[str, Any]]:
    return [component if c["name"] == TOKENIZER else c for c in _pipeline()]


def _without_encoder() -> list[dict[str, Any]]:
    kept = [c for c in _pipeline() if c["name"] != ENCODER_COMPONENT]
    return [_without_featurizer(c, "sentence_encoder") for c in kept]


def _without_featurizer(component: dict[str, Any], name: str) -> dict[str, Any]:
    if "featurizers" not in component:
        return component
    changed = {**component, "featurizers": [f for f in component["featurizers"] if f != name]}
    if component.get("chinese") and "featurizers" in component["chinese"]:
        chinese = component["chinese"]
        changed["chinese"] = {
            **chinese,
            "featurizers": [f for f in chinese["featurizers"] if f != name],
        }
    return changed


def _with_multilingual_encoder() -> list[dict[str, Any]]:
    """config.yml plus multilingual-e5-small, read by the Chinese regression only."""
    pipeline = []
    for component in _pipeline():
        if component["name"] == ENCODER_COMPONENT:
            pipeline += [component, {**component, "alias": "e5", "model_dir": E5_DIR}]
        elif component.get("chinese") is not None:
            chinese = component["chinese"]
            featurizers = [*chinese.get("featurizers", component["featurizers"]), "e5"]
            pipeline.append({**component, "chinese": {**chinese, "featurizers": featurizers}})
        else:
            pipeline.append(component)
    return pipeline


def _before() -> list[dict[str, Any]]:
    """The pipeline as it was before Chinese: Rasa's whitespace tokenizer and regex
    featurizer, one regression (trained on the English data only)."""
    pipeline = _with_tokenizer({"name": "WhitespaceTokenizer"})
    return [
        {**c, "name": "RegexFeaturizer"}
        if c["name"] == FOLDED_REGEX
        else {k: v for k, v in c.items() if k != "chinese"}
        for c in pipeline
    ]


VARIANTS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "before": _before,
    "whitespace": lambda: _with_tokenizer({"name": "WhitespaceTokenizer"}),
    "chars": lambda: _with_tokenizer({"name": TOKENIZER, "segmentation": "chars"}),
    "jieba": _pipeline,
    "jieba-no-encoder": _without_encoder,
    "jieba-e5": _with_multilingual_encoder,
}


def _english_data(folder: Path) -> Path:
    """A copy of data/nlu without the Chinese files and the language switch."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in TRAINING_DIR.glob("*.yml"):
        if not path.name.startswith(("nlu_zh_", "nlu_language")):
            shutil.copy(path, folder / path.name)
    return folder


def run_variant(name: str) -> dict[str, Any]:
    """Train one variant on data/nlu and score it on both test sets; write its result."""
    from bot.encoder import ensure_encoders

    pipeline = VARIANTS[name]()
    ensure_encoders([paths.ROOT / c["model_dir"] for c in pipeline if "model_dir" in c])
    folder = WORK_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yml"
    config.write_text(
        yaml.safe_dump({"recipe": "default.v1", "language": "en", "pipeline": pipeline})
    )
    log = folder / "log.txt"
    data = _english_data(folder / "data") if name in ENGLISH_ONLY else TRAINING_DIR
    print(f"[{name}] training on {data.name} (log: {log.relative_to(paths.ROOT)})...", flush=True)
    model, seconds = train_nlu(config, data, folder / "model", log)
    seen = training_texts()
    written = {lang: load_test_set(path) for lang, path in TEST_SETS.items() if path.exists()}
    tests = {lang: held_out(examples, seen) for lang, examples in written.items()}
    records = parse(
        model,
        {lang: [Example(e.text, e.intent) for e in examples] for lang, examples in tests.items()},
        folder,
        log,
    )
    result = {
        "variant": name,
        "pipeline": pipeline,
        "train_seconds": seconds,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "scores": {lang: score(tests[lang], records[lang], synonyms()) for lang in tests},
        "also_in_training": {lang: len(written[lang]) - len(tests[lang]) for lang in tests},
        "parse_ms_p50": {
            lang: sorted(r["ms"] for r in records[lang])[len(records[lang]) // 2] for lang in tests
        },
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return result


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def report(results: Sequence[dict[str, Any]]) -> str:
    """The Markdown table of docs/benchmarks.md."""
    lines = [
        "| variant | zh intent | zh code-switched | zh full-width | zh entity F1 | "
        "en intent | en entity F1 | train | parse p50 zh |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        zh = result["scores"].get("zh", {})
        en = result["scores"].get("en", {})

        def cell(scores: dict[str, Any], part: str, *, n: bool = False) -> str:
            value = scores.get(part, {})
            shown = _pct(value.get("accuracy", value.get("f1")))
            return f"{shown} (n={value.get('n', 0)})" if n else shown

        lines.append(
            f"| {result['variant']} | {cell(zh, 'intent', n=True)} "
            f"| {cell(zh, 'code_switched', n=True)} | {cell(zh, 'full_width', n=True)} "
            f"| {cell(zh, 'entities')} | {cell(en, 'intent', n=True)} | {cell(en, 'entities')} "
            f"| {result['train_seconds']:.0f} s | {result['parse_ms_p50'].get('zh', 0):.0f} ms |"
        )
    return "\n".join(lines)


def run(variants: Sequence[str]) -> int:
    """Run the variants (all by default) and print the report with each one's worst errors."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; choose from {sorted(VARIANTS)}")
    results = [run_variant(v) for v in variants or list(VARIANTS)]
    print(report(results))
    for result in results:
        for lang, scores in result["scores"].items():
            print(f"{result['variant']} {lang} errors: {scores['top_errors']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.nlu_zh` (`make bench-nlu-zh`)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nlu_zh",
        description="the bot's NLU on held-out Chinese and English utterances",
    )
    parser.add_argument("variants", nargs="*", help="whitespace, chars, jieba, jieba-no-encoder")
    return run(parser.parse_args(argv).variants)


if __name__ == "__main__":
    raise SystemExit(main())

"""The NLU benchmark's data conversion and metrics (benchmarks/nlu.py), on the real data sets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from benchmarks import nlu as bench_nlu
from benchmarks.nlu import OOS, Dataset, Example

needs_benchmarks = pytest.mark.skipif(
    not (bench_nlu.BENCHMARKS_DIR / "clinc150" / "data_full.json").is_file(),
    reason=f"benchmark data not found in {bench_nlu.BENCHMARKS_DIR}",
)


@pytest.fixture(scope="module")
def clinc() -> Dataset:
    return bench_nlu.load_clinc150()


@pytest.fixture(scope="module")
def banking() -> Dataset:
    return bench_nlu.load_banking77()


@needs_benchmarks
def test_clinc150_keeps_every_split_with_oos_as_out_of_scope(clinc: Dataset) -> None:
    assert clinc.counts() == {"train": 15_100, "validation": 3_100, "test": 5_500}
    train = Counter(e.intent for e in clinc.train)
    assert len(train) == 151
    assert train[OOS] == 100
    assert "oos" not in train
    assert Counter(e.intent for e in clinc.test)[OOS] == 1_000
    assert Counter(e.intent for e in clinc.validation)[OOS] == 100
    assert clinc.has_oos


@needs_benchmarks
def test_banking77_has_77_intents_and_no_validation_split(banking: Dataset) -> None:
    assert banking.counts() == {"train": 10_003, "validation": 0, "test": 3_080}
    assert len({e.intent for e in banking.train}) == 77
    assert {e.intent for e in banking.test} == {e.intent for e in banking.train}
    assert not banking.has_oos


@needs_benchmarks
def test_texts_are_single_lines_without_entity_markup(banking: Dataset) -> None:
    texts = [e.text for e in banking.train + banking.test]
    assert all("\n" not in t and "[" not in t and t == t.strip() for t in texts)
    # Banking77 has questions over several lines; they keep their words.
    assert any("pending" in t and "new customer" in t for t in texts)


def _read_rasa_yaml(text: str) -> list[Example]:
    data = yaml.safe_load(text)
    assert data["version"] == "3.1"
    examples = []
    for block in data["nlu"]:
        assert set(block) == {"intent", "examples"}
        lines = block["examples"].splitlines()
        assert all(line.startswith("- ") for line in lines)
        examples.extend(Example(line[2:], block["intent"]) for line in lines)
    return examples


@needs_benchmarks
def test_rasa_yaml_round_trips_every_training_example(clinc: Dataset) -> None:
    assert _read_rasa_yaml(bench_nlu.to_rasa_yaml(clinc.train)) == sorted(
        clinc.train, key=lambda e: [b.intent for b in clinc.train].index(e.intent)
    )


def test_rasa_yaml_keeps_text_and_intent_names_that_yaml_would_reinterpret() -> None:
    tricky = [
        Example('"please set 5 minute timer', "timer"),
        Example("remind me in (x) hours: #1 - now", "reminder"),
        Example("yes", "yes"),
        Example("no", "no"),
        Example("- leading dash", "affirm"),
    ]
    assert _read_rasa_yaml(bench_nlu.to_rasa_yaml(tricky)) == tricky


@needs_benchmarks
def test_quick_sample_keeps_few_intents_and_out_of_scope(clinc: Dataset) -> None:
    quick = bench_nlu.sample(clinc, intents=4, train=20, test=6)
    intents = Counter(e.intent for e in quick.train)
    assert len(intents) == 5 and OOS in intents
    assert set(intents.values()) == {20}
    assert Counter(e.intent for e in quick.test) == {i: 6 for i in intents}
    assert bench_nlu.sample(clinc, intents=4, train=20, test=6) == quick  # seeded


def test_write_dataset_writes_yaml_for_training_and_json_for_evaluation(tmp_path: Path) -> None:
    dataset = Dataset(
        "tiny",
        [Example("hi", "greet")],
        [Example("hello", "greet")],
        [Example("hey", "greet"), Example("weather?", OOS)],
    )
    files = bench_nlu.write_dataset(dataset, tmp_path)
    assert _read_rasa_yaml(files["train"].read_text()) == dataset.train
    assert json.loads(files["test"].read_text()) == [
        {"text": "hey", "intent": "greet"},
        {"text": "weather?", "intent": OOS},
    ]


def test_oos_scores_follow_larson_et_al() -> None:
    gold = ["a", "a", "b", OOS, OOS]
    predicted = ["a", OOS, "b", OOS, "a"]
    scores = bench_nlu.oos_scores(gold, predicted)
    assert scores["in_scope_accuracy"] == pytest.approx(2 / 3)  # oos for an in-scope is wrong
    assert scores["oos_recall"] == pytest.approx(1 / 2)
    assert scores["oos_precision"] == pytest.approx(1 / 2)


def test_macro_f1_averages_over_gold_classes() -> None:
    # a: P=1/3 R=1 F1=1/2; b: P=1 R=1/2 F1=2/3; c never predicted: 0
    assert bench_nlu.macro_f1(["a", "b", "b", "c"], ["a", "b", "a", "a"]) == pytest.approx(
        (1 / 2 + 2 / 3 + 0) / 3
    )


def test_threshold_turns_low_confidence_into_out_of_scope_and_is_tuned_on_validation() -> None:
    records = [
        {"intent": "a", "top_intent": "a", "confidence": 0.9},
        {"intent": "nlu_fallback", "top_intent": "b", "confidence": 0.2},
        {"intent": "b", "top_intent": "b", "confidence": 0.4},
    ]
    assert bench_nlu.decide(records, None) == ["a", OOS, "b"]
    assert bench_nlu.decide(records, 0.5) == ["a", OOS, OOS]
    threshold = bench_nlu.calibrate_threshold(records, ["a", OOS, OOS])
    assert 0.4 < threshold <= 0.9

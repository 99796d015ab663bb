"""`make bench-nlu`: our NLU pipeline against Rasa's default on CLINC150 and Banking77.

For each data set the training split becomes Rasa NLU YAML under var/bench-nlu/, each pipeline
is trained on it with `rasa train nlu`, the trained model parses the test split in the Rasa
environment (bot.components.evaluate), and the metrics are computed here from what it
predicted. Every (data set, pipeline) pair writes its own result file under
var/results/bench-nlu/, so a long run (Rasa's default pipeline takes an hour on CLINC150) can
be done once and reported together with later ones.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import platform
import random
import shutil
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot import paths
from bot.processes import rasa_environment

BENCHMARKS_DIR = paths.ROOT.parent / "shared" / "benchmarks"
WORK_DIR = paths.VAR / "bench-nlu"
RESULTS_DIR = paths.VAR / "results" / "bench-nlu"
OOS = "out_of_scope"
FALLBACK = "nlu_fallback"
SEED = 42
QUICK_EPOCHS = 3

# What `rasa init` trains with: its config.yml leaves `pipeline:` empty, and Rasa 3.6 then
# uses rasa/engine/recipes/config_files/default_config.yml, written out here so that the quick
# mode can shorten its epochs.
RASA_DEFAULT_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "EntitySynonymMapper"},
    {"name": "ResponseSelector", "epochs": 100, "constrain_similarities": True},
    {"name": "FallbackClassifier", "threshold": 0.3, "ambiguity_threshold": 0.1},
]


@dataclass(frozen=True)
class Example:
    """One labelled utterance."""

    text: str
    intent: str


@dataclass
class Dataset:
    """A benchmark's splits, with out-of-scope examples labelled `out_of_scope`."""

    name: str
    train: list[Example]
    validation: list[Example]
    test: list[Example]

    @property
    def has_oos(self) -> bool:
        return any(e.intent == OOS for e in self.test)

    def counts(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


def _clean(text: str) -> str:
    """One line of text that Rasa's YAML reader keeps verbatim (no entity markup, no newline)."""
    return " ".join(text.replace("[", "(").replace("]", ")").split())


def load_clinc150(folder: Path = BENCHMARKS_DIR / "clinc150") -> Dataset:
    """CLINC150 `data_full.json`: 150 intents plus `oos` (renamed `out_of_scope`) in every split.

    The 100 oos training examples become an `out_of_scope` intent, which is how the project's
    own bot handles off-topic requests (data/nlu/nlu_chitchat.yml).
    """
    raw = json.loads((folder / "data_full.json").read_text())

    def split(name: str) -> list[Example]:
        in_scope = [Example(_clean(t), i) for t, i in raw[name]]
        oos = [Example(_clean(t), OOS) for t, _ in raw[f"oos_{name}"]]
        return in_scope + oos

    return Dataset("clinc150", split("train"), split("val"), split("test"))


def load_banking77(folder: Path = BENCHMARKS_DIR / "banking77") -> Dataset:
    """Banking77 `train.csv`/`test.csv` (text, category); it has no validation split."""

    def read(name: str) -> list[Example]:
        with (folder / name).open(newline="") as f:
            return [Example(_clean(r["text"]), r["category"]) for r in csv.DictReader(f)]

    return Dataset("banking77", read("train.csv"), [], read("test.csv"))


LOADERS: dict[str, Callable[[], Dataset]] = {"clinc150": load_clinc150, "banking77": load_banking77}


def sample(dataset: Dataset, *, intents: int, train: int, test: int, seed: int = SEED) -> Dataset:
    """A small slice for the quick mode: `intents` intents (plus out_of_scope if present),
    at most `train` training and `test` validation/test examples of each."""
    rng = random.Random(seed)
    names = sorted({e.intent for e in dataset.train} - {OOS})
    keep = set(rng.sample(names, intents)) | ({OOS} if dataset.has_oos else set())

    def take(examples: list[Example], per_intent: int) -> list[Example]:
        seen: Counter[str] = Counter()
        out = []
        for e in examples:
            if e.intent in keep and seen[e.intent] < per_intent:
                seen[e.intent] += 1
                out.append(e)
        return out

    return Dataset(
        f"{dataset.name}-quick",
        take(dataset.train, train),
        take(dataset.validation, test),
        take(dataset.test, test),
    )


def to_rasa_yaml(examples: Iterable[Example]) -> str:
    """Rasa 3 NLU training data (`version: "3.1"`), intents in first-seen order."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for e in examples:
        by_intent[e.intent].append(e.text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        # Quoted: CLINC150 has intents named yes, no and maybe, which YAML 1.1 reads as booleans.
        lines.append(f"- intent: {json.dumps(intent)}")
        lines.append("  examples: |")
        lines.extend(f"    - {t}" for t in texts)
    return "\n".join(lines) + "\n"


def write_dataset(dataset: Dataset, folder: Path) -> dict[str, Path]:
    """Write the training split as Rasa YAML and the evaluation splits as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"train": folder / "train.yml"}
    files["train"].write_text(to_rasa_yaml(dataset.train))
    for name in ("validation", "test"):
        files[name] = folder / f"{name}.json"
        rows = [asdict(e) for e in getattr(dataset, name)]
        files[name].write_text(json.dumps(rows, indent=0))
    return files


# --- pipelines ---------------------------------------------------------------------------


@dataclass
class PipelineRun:
    """A pipeline ready for `rasa train nlu`, and what preparing it cost."""

    config: Path
    prepare_seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)


def _shorten_epochs(pipeline: list[dict[str, Any]], epochs: int) -> list[dict[str, Any]]:
    return [{**c, "epochs": epochs} if "epochs" in c else c for c in pipeline]


def _write_config(pipeline: list[dict[str, Any]], path: Path) -> Path:
    config = {"recipe": "default.v1", "language": "en", "pipeline": pipeline}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prepare_rasa_default(dataset: Dataset, folder: Path, *, quick: bool, **_: Any) -> PipelineRun:
    """Rasa's default pipeline, as `rasa init` trains it."""
    pipeline = (
        _shorten_epochs(RASA_DEFAULT_PIPELINE, QUICK_EPOCHS) if quick else RASA_DEFAULT_PIPELINE
    )
    return PipelineRun(_write_config(pipeline, folder / "config-rasa-default.yml"))


ENCODER_COMPONENT = "bot.components.sentence_encoder.SentenceEncoderFeaturizer"
FINE_TUNE_EPOCHS = 1.0
QUICK_FINE_TUNE_EPOCHS = 0.5


def our_pipeline(
    config_file: Path, *, quick: bool, encoder_dir: Path | None = None
) -> list[dict[str, Any]]:
    """`config_file`'s pipeline (config.yml's by default), optionally with another encoder."""
    pipeline: list[dict[str, Any]] = yaml.safe_load(config_file.read_text())["pipeline"]
    if encoder_dir is not None:
        if not any(c["name"] == ENCODER_COMPONENT for c in pipeline):
            raise ValueError(f"{config_file} has no {ENCODER_COMPONENT} to swap")
        pipeline = [
            {**c, "model_dir": str(encoder_dir)} if c["name"] == ENCODER_COMPONENT else c
            for c in pipeline
        ]
    return _shorten_epochs(pipeline, QUICK_EPOCHS) if quick else pipeline


def prepare_ours(
    dataset: Dataset, folder: Path, *, quick: bool, config_file: Path = paths.CONFIG_FILE
) -> PipelineRun:
    """config.yml's pipeline as the bot runs it (its encoder exported if needed)."""
    from bot.encoder import ensure_encoders

    pipeline = our_pipeline(config_file, quick=quick)
    started = time.perf_counter()
    # A one-off export, counted in the training time when it runs.
    ensure_encoders([paths.ROOT / c["model_dir"] for c in pipeline if "model_dir" in c])
    seconds = time.perf_counter() - started
    config = _write_config(pipeline, folder / "config-ours.yml")
    return PipelineRun(config, seconds if seconds > 1 else 0.0)


def prepare_ours_finetuned(
    dataset: Dataset, folder: Path, *, quick: bool, config_file: Path = paths.CONFIG_FILE
) -> PipelineRun:
    """config.yml's pipeline with its encoder first fine-tuned on the training split
    (bot/encoder.py; not among the defaults: on CLINC150 it did not beat the packaged one)."""
    from bot.encoder import fine_tune

    encoders = [
        Path(c["model_dir"]).name
        for c in our_pipeline(config_file, quick=quick)
        if c["name"] == ENCODER_COMPONENT
    ]
    if not encoders:
        raise ValueError(f"{config_file} has no {ENCODER_COMPONENT} to fine-tune")
    encoder_dir = folder / "encoder"
    started = time.perf_counter()
    meta = fine_tune(
        [e.text for e in dataset.train],
        [e.intent for e in dataset.train],
        encoder_dir,
        base=encoders[0],
        epochs=QUICK_FINE_TUNE_EPOCHS if quick else FINE_TUNE_EPOCHS,
        seed=SEED,
    )
    seconds = time.perf_counter() - started
    pipeline = our_pipeline(config_file, quick=quick, encoder_dir=encoder_dir)
    config = _write_config(pipeline, folder / "config-ours-finetuned.yml")
    return PipelineRun(config, seconds, {"encoder": meta})


Preparer = Callable[..., PipelineRun]
PREPARERS: dict[str, Preparer] = {
    "rasa-default": prepare_rasa_default,
    "ours": prepare_ours,
    "ours-finetuned": prepare_ours_finetuned,
}


# --- running -----------------------------------------------------------------------------


def _rasa_python() -> Path:
    return paths.rasa_executable().parent / "python"


def train_nlu(config: Path, train_file: Path, out_dir: Path, log: Path) -> tuple[Path, float]:
    """`rasa train nlu` with an empty cache (honest timing); return the model and seconds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(paths.rasa_executable()),
        "train",
        "nlu",
        "--config",
        str(config),
        "--nlu",
        str(train_file),
        "--out",
        str(out_dir),
        "--fixed-model-name",
        "nlu",
    ]
    with tempfile.TemporaryDirectory(dir=paths.VAR) as cache, log.open("wb") as sink:
        env = rasa_environment({"RASA_CACHE_DIRECTORY": cache})
        started = time.perf_counter()
        subprocess.run(
            command, cwd=paths.ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, check=True
        )
        seconds = time.perf_counter() - started
    return out_dir / "nlu.tar.gz", seconds


def parse(
    model: Path, splits: Mapping[str, Sequence[Example]], folder: Path, log: Path
) -> dict[str, list[dict[str, Any]]]:
    """Parse each split's examples with the model in one Rasa process; records per split."""
    command = [str(_rasa_python()), "-m", "bot.components.evaluate", str(model)]
    for name, examples in splits.items():
        texts = folder / f"{name}.texts.json"
        texts.write_text(json.dumps([e.text for e in examples]))
        command += [str(texts), str(folder / f"{name}.jsonl")]
    with log.open("ab") as sink:
        subprocess.run(
            command,
            cwd=paths.ROOT,
            env=rasa_environment(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=True,
        )
    records = {}
    for name, examples in splits.items():
        out = folder / f"{name}.jsonl"
        records[name] = [json.loads(line) for line in out.read_text().splitlines()]
        if len(records[name]) != len(examples):
            raise RuntimeError(f"{out}: {len(records[name])} predictions, {len(examples)} examples")
    return records


# --- metrics -----------------------------------------------------------------------------


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the gold labels (a class never predicted scores 0)."""
    labels = sorted(set(gold))
    scores = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def oos_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """CLINC150's measures (Larson et al. 2019): accuracy on in-scope queries (predicting
    out-of-scope for one is an error), and recall and precision of out_of_scope."""
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != OOS]
    oos_gold = sum(1 for g in gold if g == OOS)
    oos_predicted = sum(1 for p in predicted if p == OOS)
    oos_hit = sum(1 for g, p in zip(gold, predicted, strict=True) if g == OOS and p == OOS)
    return {
        "in_scope_accuracy": sum(g == p for g, p in in_scope) / len(in_scope),
        "oos_recall": oos_hit / oos_gold if oos_gold else math.nan,
        "oos_precision": oos_hit / oos_predicted if oos_predicted else 0.0,
    }


def as_oos(intent: str) -> str:
    return OOS if intent in (OOS, FALLBACK) else intent


def decide(records: Sequence[dict[str, Any]], threshold: float | None) -> list[str]:
    """Predicted labels: the best intent, out_of_scope when it is out_of_scope or its
    confidence is below `threshold` (None: Rasa's own decision, FallbackClassifier included)."""
    if threshold is None:
        return [as_oos(r["intent"]) for r in records]
    return [OOS if r["confidence"] < threshold else r["top_intent"] for r in records]


def calibrate_threshold(records: Sequence[dict[str, Any]], gold: Sequence[str]) -> float:
    """The confidence threshold that maximises in-scope accuracy + OOS recall on `records`
    (a validation split; never the test split)."""
    candidates = sorted({round(r["confidence"], 3) for r in records} | {0.0})
    best, best_score = 0.0, -1.0
    for t in candidates:
        s = oos_scores(gold, decide(records, t))
        score = s["in_scope_accuracy"] + s["oos_recall"]
        if score > best_score:
            best, best_score = t, score
    return best


def latency(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    ms = sorted(r["ms"] for r in records)
    return {
        "latency_ms_mean": sum(ms) / len(ms),
        "latency_ms_p50": ms[len(ms) // 2],
        "latency_ms_p95": ms[min(len(ms) - 1, int(len(ms) * 0.95))],
    }


def score(
    dataset: Dataset,
    test_records: Sequence[dict[str, Any]],
    validation_records: Sequence[dict[str, Any]] | None,
) -> dict[str, Any]:
    """Every metric the data set is known for, from the model's predictions."""
    gold = [e.intent for e in dataset.test]
    metrics: dict[str, Any] = {}
    if dataset.has_oos:
        metrics["oos_intent"] = oos_scores(gold, [r["top_intent"] for r in test_records])
        metrics["oos_rasa"] = oos_scores(gold, decide(test_records, None))
        if validation_records:
            val_gold = [e.intent for e in dataset.validation]
            threshold = calibrate_threshold(validation_records, val_gold)
            metrics["calibrated_threshold"] = threshold
            metrics["oos_calibrated"] = oos_scores(gold, decide(test_records, threshold))
    # With out-of-scope queries in the test set, Rasa's own decision (fallback included) is
    # what counts; without them (Banking77) the published figures are the classifier's.
    if dataset.has_oos:
        predicted = [as_oos(r["intent"]) for r in test_records]
    else:
        predicted = [r["top_intent"] for r in test_records]
    fired = sum(1 for r in test_records if r["intent"] == FALLBACK)
    metrics["fallback_fired"] = fired / len(test_records)
    metrics["accuracy"] = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    metrics["macro_f1"] = macro_f1(gold, predicted)
    metrics.update(latency(test_records))
    return metrics


def _digest(*files: Path) -> str:
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def run_one(
    dataset: Dataset, pipeline: str, *, quick: bool, config_file: Path = paths.CONFIG_FILE
) -> dict[str, Any]:
    """Prepare, train, parse and score one pipeline on one data set; write its result file."""
    folder = WORK_DIR / dataset.name
    files = write_dataset(dataset, folder)
    run_dir = folder / pipeline
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "log.txt"
    print(f"[{dataset.name} / {pipeline}] preparing...", flush=True)
    prepared = PREPARERS[pipeline](dataset, run_dir, quick=quick, config_file=config_file)
    print(
        f"[{dataset.name} / {pipeline}] training (log: {log.relative_to(paths.ROOT)})...",
        flush=True,
    )
    model, train_seconds = train_nlu(prepared.config, files["train"], run_dir / "model", log)
    print(f"[{dataset.name} / {pipeline}] trained in {train_seconds:.0f} s; parsing...", flush=True)
    splits = {"test": dataset.test}
    if dataset.validation and dataset.has_oos:
        splits["validation"] = dataset.validation
    records = parse(model, splits, run_dir, log)
    result = {
        "dataset": dataset.name,
        "pipeline": pipeline,
        "quick": quick,
        "counts": dataset.counts(),
        "intents": len({e.intent for e in dataset.train}),
        "config": yaml.safe_load(prepared.config.read_text())["pipeline"],
        "prepare_seconds": prepared.prepare_seconds,
        "rasa_train_seconds": train_seconds,
        "train_seconds": prepared.prepare_seconds + train_seconds,
        "notes": prepared.notes,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "data_digest": _digest(files["train"], files["test"]),
        "metrics": score(dataset, records["test"], records.get("validation")),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result_file = RESULTS_DIR / f"{dataset.name}--{pipeline}.json"
    result_file.write_text(json.dumps(result, indent=2))
    print(f"[{dataset.name} / {pipeline}] {json.dumps(result['metrics'])}", flush=True)
    return result


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()} (main) / Rasa 3.6.21 (Python 3.10)"
    )


def load_dataset(name: str, *, quick: bool) -> Dataset:
    if name not in LOADERS:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(LOADERS)}")
    dataset = LOADERS[name]()
    return sample(dataset, intents=4, train=20, test=6) if quick else dataset


def bench_nlu(
    datasets: Sequence[str],
    pipelines: Sequence[str],
    *,
    quick: bool = False,
    config_file: Path = paths.CONFIG_FILE,
) -> list[dict[str, Any]]:
    """Run every pipeline on every data set (in that order) and return the results."""
    unknown = [p for p in pipelines if p not in PREPARERS]
    if unknown:
        raise ValueError(f"unknown pipeline(s) {unknown}; choose from {sorted(PREPARERS)}")
    results = []
    for name in datasets:
        dataset = load_dataset(name, quick=quick)
        for pipeline in pipelines:
            results.append(run_one(dataset, pipeline, quick=quick, config_file=config_file))
    return results


def clean_work_dir() -> None:
    shutil.rmtree(WORK_DIR, ignore_errors=True)


# Published results on the same splits: (model and paper, out-of-scope handling, in-scope
# accuracy, OOS recall) and (model and paper, accuracy).
PUBLISHED_CLINC150 = [
    ("BERT (Larson et al. 2019)", "oos as an intent", "96.9", "40.3"),
    ("BERT (Larson et al. 2019)", "threshold", "96.2", "52.3"),
    ("Rasa NLU, 2019 pipeline (Larson et al. 2019)", "oos as an intent", "91.5", "45.3"),
    ("Rasa NLU, 2019 pipeline (Larson et al. 2019)", "threshold", "90.9", "31.2"),
]
PUBLISHED_BANKING77 = [
    ("BERT-large (Casanueva et al. 2020)", "93.66"),
    ("USE+ConveRT (Casanueva et al. 2020)", "93.36"),
]
OOS_MODES = [
    ("oos_rasa", "out_of_scope intent + FallbackClassifier (as deployed)"),
    ("oos_intent", "out_of_scope intent only"),
    ("oos_calibrated", "threshold tuned on the validation split"),
]


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _training(result: dict[str, Any]) -> str:
    text = _minutes(result["train_seconds"])
    if result["prepare_seconds"]:
        text += (
            f" ({_minutes(result['prepare_seconds'])} encoder preparation + "
            f"{_minutes(result['rasa_train_seconds'])} `rasa train nlu`)"
        )
    return text


def _latency(metrics: dict[str, Any]) -> str:
    return f"{metrics['latency_ms_mean']:.1f} / {metrics['latency_ms_p95']:.1f}"


def report(results: Sequence[dict[str, Any]]) -> str:
    """Markdown tables, one per data set, with the published results underneath ours."""
    out: list[str] = []
    for name in sorted({r["dataset"] for r in results}):
        rows = sorted((r for r in results if r["dataset"] == name), key=lambda r: r["pipeline"])
        out.append(
            f"### {name} ({rows[0]['counts']['train']} train / "
            f"{rows[0]['counts']['test']} test, {rows[0]['intents']} intents)\n"
        )
        base = name.removesuffix("-quick")
        if any("oos_rasa" in r["metrics"] for r in rows):
            out.append(
                "| pipeline | out-of-scope handling | in-scope accuracy | OOS recall | "
                "OOS precision | training | latency ms (mean / p95) |"
            )
            out.append("|---|---|---|---|---|---|---|")
            for r in rows:
                m = r["metrics"]
                for key, label in OOS_MODES:
                    if key not in m:
                        continue
                    if key == "oos_calibrated":
                        label += f" ({m['calibrated_threshold']:.2f})"
                    s = m[key]
                    out.append(
                        f"| {r['pipeline']} | {label} | {_pct(s['in_scope_accuracy'])} | "
                        f"{_pct(s['oos_recall'])} | {_pct(s['oos_precision'])} | "
                        f"{_training(r)} | {_latency(m)} |"
                    )
            if base == "clinc150":
                for model, handling, acc, recall in PUBLISHED_CLINC150:
                    out.append(
                        f"| {model}, published | {handling} | {acc} | {recall} | — | — | — |"
                    )
        else:
            out.append("| pipeline | accuracy | macro-F1 | training | latency ms (mean / p95) |")
            out.append("|---|---|---|---|---|")
            for r in rows:
                m = r["metrics"]
                out.append(
                    f"| {r['pipeline']} | {_pct(m['accuracy'])} | {_pct(m['macro_f1'])} | "
                    f"{_training(r)} | {_latency(m)} |"
                )
            if base == "banking77":
                for model, acc in PUBLISHED_BANKING77:
                    out.append(f"| {model}, published | {acc} | — | — | — |")
        out.append("")
    return "\n".join(out)


def load_results(*, quick: bool) -> list[dict[str, Any]]:
    """Every result on file, quick-mode ones or full ones."""
    if not RESULTS_DIR.is_dir():
        return []
    results = [json.loads(f.read_text()) for f in sorted(RESULTS_DIR.glob("*.json"))]
    return [r for r in results if r["quick"] == quick]


def rescore(*, quick: bool) -> None:
    """Recompute the metrics of past runs from their saved predictions (no retraining)."""
    for result in load_results(quick=quick):
        run_dir = WORK_DIR / result["dataset"] / result["pipeline"]
        if not (run_dir / "test.jsonl").is_file():
            continue
        dataset = load_dataset(result["dataset"].removesuffix("-quick"), quick=quick)
        records = {
            name: [
                json.loads(line) for line in (run_dir / f"{name}.jsonl").read_text().splitlines()
            ]
            for name in ("test", "validation")
            if (run_dir / f"{name}.jsonl").is_file()
        }
        result["metrics"] = score(dataset, records["test"], records.get("validation"))
        result_file = RESULTS_DIR / f"{result['dataset']}--{result['pipeline']}.json"
        result_file.write_text(json.dumps(result, indent=2))


def run(
    datasets: Sequence[str],
    pipelines: Sequence[str],
    *,
    quick: bool = False,
    report_only: bool = False,
    config_file: Path = paths.CONFIG_FILE,
) -> int:
    """Run, then print the tables of every result on file."""
    if report_only:
        rescore(quick=quick)
    else:
        bench_nlu(datasets, pipelines, quick=quick, config_file=config_file)
    results = load_results(quick=quick)
    if not results:
        print(f"No results in {RESULTS_DIR.relative_to(paths.ROOT)} yet.")
        return 1
    print(f"\nMachine: {results[0]['machine']}\n")
    print(report(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.nlu` (`make bench-nlu`)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nlu",
        description="our NLU pipeline vs Rasa's default on CLINC150 and Banking77",
    )
    parser.add_argument("--quick", action="store_true", help="a few intents and epochs (~2 min)")
    parser.add_argument("--datasets", nargs="+", default=["clinc150", "banking77"])
    parser.add_argument("--pipelines", nargs="+", default=["rasa-default", "ours"])
    parser.add_argument("--report", action="store_true", help="only print the table of past runs")
    parser.add_argument(
        "--config", type=Path, default=paths.CONFIG_FILE,
        help="the config whose pipeline is `ours` (default config.yml)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    return run(args.datasets, args.pipelines, quick=args.quick, report_only=args.report,
               config_file=args.config)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())

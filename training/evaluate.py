"""The held-out comparison: base model prompted only, fine-tuned model, extractive answer.

Each system answers the same held-out examples with the same prompts (`models.prompt`),
through llama.cpp (the fast backend); `models.metrics.score` scores them. Per-system results
with every prediction go to ``var/generator/eval/<system>.json``, the table to
``var/generator/eval/summary.json``, the model card and standard output.

Example:
    >>> summary = evaluate(GeneratorSettings.from_env(), limit=300)
    >>> print(summary.markdown())
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models import guard
from models.errors import ModelNotFound
from models.examples import REFUSAL, Example, read_jsonl
from models.generator import LORA_GGUF, Generation, Generator, Limits, LlamaCppGenerator
from models.metrics import Report, score
from models.prompt import build_prompt
from models.settings import ROOT, GeneratorSettings
from training.card import update_card

EVAL_DIR = ROOT / "var" / "generator" / "eval"
SYSTEMS = ("extractive", "base", "fine-tuned")
LABELS = {
    "extractive": "extractive (first context item)",
    "base": "Gemma-3-270M base, prompt only",
    "fine-tuned": "Gemma-3-270M + LoRA (this adapter)",
}


@dataclass
class SystemResult:
    """One system's answers, scores and speed on the evaluated examples."""

    system: str
    report: Report
    guard_pass_rate: float
    predictions: list[str]
    seconds: float = 0.0
    tokens: int = 0
    tokens_per_second: float | None = None
    first_token_seconds: float | None = None
    stopped_by: dict[str, int] = field(default_factory=dict)

    def to_json(self, examples: Sequence[Example]) -> dict[str, Any]:
        """Scores, speed and every prediction next to its example id."""
        return {
            "system": self.system,
            "label": LABELS.get(self.system, self.system),
            "report": self.report.to_json(),
            "guard_pass_rate": self.guard_pass_rate,
            "seconds": round(self.seconds, 1),
            "tokens": self.tokens,
            "tokens_per_second": self.tokens_per_second,
            "median_first_token_seconds": self.first_token_seconds,
            "stopped_by": self.stopped_by,
            "predictions": [
                {"id": e.id, "kind": e.kind, "prediction": p, "answer": e.answer}
                for e, p in zip(examples, self.predictions, strict=True)
            ],
        }


@dataclass
class Summary:
    """The side-by-side comparison of the systems on one example set."""

    examples: int
    of: int
    results: list[SystemResult]

    def markdown(self) -> str:
        """The comparison table with the guard pass rate and speed columns."""
        lines = [
            f"Held-out examples: {self.examples}"
            + (
                f" (a seeded, kind-stratified sample of {self.of})"
                if self.examples < self.of
                else ""
            ),
            "",
            Report.markdown_header().splitlines()[0] + " guard pass | tokens/s |",
            Report.markdown_header().splitlines()[1] + "---:|---:|",
        ]
        for result in self.results:
            speed = "n/a" if result.tokens_per_second is None else f"{result.tokens_per_second:.1f}"
            row = result.report.markdown_row(LABELS.get(result.system, result.system))
            lines.append(f"{row} {100 * result.guard_pass_rate:.1f}% | {speed} |")
        lines += [
            "",
            "token F1 and exact-fact match are over answerable examples; faithfulness is the share",
            "of non-refusal answers whose facts all appear in the context; guard pass is the share",
            "of all answers the grounding guard accepts (a refusal always passes); refusal",
            "precision/recall treat the no-answer examples as positives. tokens/s is what the",
            "evaluation run itself saw (GENERATOR_THREADS threads, other jobs running); the",
            "Speed section has the benchmark.",
        ]
        gain = self.f1_gain()
        if gain is not None:
            lines.append(f"\nFine-tuned minus base: {gain:+.1f} token-F1 points.")
        return "\n".join(lines)

    def f1_gain(self) -> float | None:
        """Token-F1 points the fine-tuned model gains over the base model, when both ran."""
        by_name = {r.system: r.report.token_f1 for r in self.results}
        tuned, base = by_name.get("fine-tuned"), by_name.get("base")
        if tuned is None or base is None:
            return None
        return 100 * (tuned - base)


def sample(examples: Sequence[Example], limit: int | None, *, seed: int = 0) -> list[Example]:
    """A seeded sample of ``limit`` examples keeping each kind's share (all when None)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    if limit <= 0:
        raise ValueError(f"limit must be greater than 0, got {limit}")
    rng = random.Random(seed)
    by_kind: dict[str, list[Example]] = {}
    for example in examples:
        by_kind.setdefault(example.kind, []).append(example)
    picked: list[Example] = []
    for kind in sorted(by_kind):
        group = by_kind[kind]
        picked += rng.sample(group, round(limit * len(group) / len(examples)))
    keep = {e.id for e in picked[:limit]}
    return [e for e in examples if e.id in keep]


def extractive(example: Example) -> str:
    """The baseline: the first context item's text, or the refusal when there is none."""
    return example.context[0].text.strip() if example.context else REFUSAL


def run_generator(
    generator: Generator,
    examples: Sequence[Example],
    *,
    prompt_tokens: int,
    progress: bool = True,
    desc: str = "",
) -> list[Generation]:
    """Answer every example with ``generator``, prompts cut to ``prompt_tokens``."""
    from tqdm import tqdm

    generations = []
    for example in tqdm(examples, desc=desc or generator.name, disable=not progress, unit="ex"):
        prompt = build_prompt(
            example.question,
            example.context,
            max_tokens=prompt_tokens,
            count_tokens=generator.count_tokens,
        )
        generations.append(generator.generate(prompt.text))
    return generations


def system_result(
    system: str,
    examples: Sequence[Example],
    predictions: list[str],
    generations: Sequence[Generation] = (),
    product_names: Collection[str] = (),
) -> SystemResult:
    """Score one system's predictions, and summarise its speed when it generated them."""
    report = score(examples, predictions, product_names=product_names)
    passed = [
        guard.check(p, e.context, product_names=product_names).passed
        for e, p in zip(examples, predictions, strict=True)
    ]
    result = SystemResult(
        system=system,
        report=report,
        guard_pass_rate=sum(passed) / len(passed) if passed else 0.0,
        predictions=predictions,
    )
    if generations:
        decoding = sum(g.seconds - (g.first_token_seconds or g.seconds) for g in generations)
        decoded = sum(max(0, g.tokens - 1) for g in generations)
        firsts = [g.first_token_seconds for g in generations if g.first_token_seconds is not None]
        result.seconds = sum(g.seconds for g in generations)
        result.tokens = sum(g.tokens for g in generations)
        result.tokens_per_second = round(decoded / decoding, 1) if decoding > 0 else None
        result.first_token_seconds = round(statistics.median(firsts), 3) if firsts else None
        for generation in generations:
            reason = generation.stopped_by
            result.stopped_by[reason] = result.stopped_by.get(reason, 0) + 1
    return result


def evaluate(
    settings: GeneratorSettings,
    *,
    data_dir: Path,
    out_dir: Path = EVAL_DIR,
    limit: int | None = 300,
    systems: Sequence[str] = SYSTEMS,
    card: Path | None = None,
    progress: bool = True,
) -> Summary:
    """Run the held-out comparison and write the results.

    Args:
        settings: Base model, adapter folder, limits and threads.
        data_dir: The folder with heldout.jsonl and products.txt (`training.dataset`).
        out_dir: Where the per-system JSON files and summary.json go.
        limit: Evaluate a seeded, kind-stratified sample of this many examples (None: all).
        systems: Any of "extractive", "base", "fine-tuned".
        card: The model card to write the table into (None: leave it).
        progress: Show progress bars.

    Returns:
        The comparison.

    Raises:
        ModelNotFound: If the data, base model or GGUF LoRA is missing.
    """
    from models.base import base_path

    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        raise ValueError(f"unknown systems {unknown}; choose from {SYSTEMS}")
    heldout = data_dir / "heldout.jsonl"
    if not heldout.is_file():
        raise ModelNotFound(f"no held-out data at {heldout}: run `python -m training build-data`")
    everything = list(read_jsonl(heldout))
    examples = sample(everything, limit)
    products_file = data_dir / "products.txt"
    products = (
        [
            line.strip()
            for line in products_file.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        if products_file.is_file()
        else []
    )
    limits = Limits(max_new_tokens=settings.max_new_tokens, max_seconds=settings.max_seconds)
    results = []
    for system in systems:
        started = time.perf_counter()
        if system == "extractive":
            results.append(
                system_result(system, examples, [extractive(e) for e in examples], (), products)
            )
            continue
        lora = None
        if system == "fine-tuned":
            if settings.adapter_dir is None:
                raise ModelNotFound("GENERATOR_ADAPTER_DIR is empty: nothing to evaluate")
            lora = settings.adapter_dir / LORA_GGUF
        generator = LlamaCppGenerator.load(
            base_path(settings), lora, limits, threads=settings.threads
        )
        generations = run_generator(
            generator,
            examples,
            prompt_tokens=settings.prompt_tokens,
            progress=progress,
            desc=system,
        )
        del generator
        predictions = [g.text for g in generations]
        results.append(system_result(system, examples, predictions, generations, products))
        results[-1].seconds = time.perf_counter() - started
    summary = Summary(examples=len(examples), of=len(everything), results=results)
    out_dir.mkdir(parents=True, exist_ok=True)
    for result in results:
        (out_dir / f"{result.system}.json").write_text(
            json.dumps(result.to_json(examples), indent=1, ensure_ascii=False), encoding="utf-8"
        )
    table = {
        "examples": summary.examples,
        "of": summary.of,
        "f1_gain_points": summary.f1_gain(),
        "systems": {
            r.system: {k: v for k, v in r.to_json(examples).items() if k != "predictions"}
            for r in results
        },
    }
    (out_dir / "summary.json").write_text(json.dumps(table, indent=1), encoding="utf-8")
    if card is not None:
        update_card(card, "evaluation", summary.markdown())
    return summary

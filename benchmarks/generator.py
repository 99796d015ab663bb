"""Generator speed per backend: decoding tokens/s and time to first token, CPU and GPU.

The fine-tuned model answers the same held-out prompts through each backend: llama.cpp
(the base GGUF with the GGUF LoRA) and transformers (the float32 checkpoint with the peft
adapter merged), on the CPU, and on a GPU when torch or llama.cpp sees one. The first
answer of each backend is a warm-up and is not counted.

Example:
    >>> print(run_bench(GeneratorSettings.from_env(), data_dir=Path("var/generator/data")))
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from models.cli import run_offline
from models.errors import ModelNotFound
from models.examples import Example, read_jsonl
from models.generator import LORA_GGUF, Generation, Generator, Limits, LlamaCppGenerator
from models.prompt import build_prompt
from models.settings import ROOT, GeneratorSettings
from training.card import card_file, update_card
from training.evaluate import sample
from training.train import DATA_DIR

BENCH_FILE = ROOT / "var" / "generator" / "bench.json"
BACKENDS = ("llama_cpp", "transformers")


@dataclass(frozen=True)
class Speed:
    """One backend on one device: how fast it answered the benchmark prompts."""

    backend: str
    device: str
    answers: int
    load_seconds: float
    tokens_per_second: float
    first_token_seconds: float
    seconds_per_answer: float
    tokens_per_answer: float

    def row(self) -> str:
        """A markdown table row."""
        return (
            f"| {self.backend} | {self.device} | {self.answers} | {self.tokens_per_second:.1f} | "
            f"{self.first_token_seconds:.2f} | {self.seconds_per_answer:.2f} | "
            f"{self.tokens_per_answer:.0f} | {self.load_seconds:.1f} |"
        )


HEADER = (
    "| backend | device | answers | tokens/s | first token (s, median) | s per answer "
    "| tokens per answer | load (s) |\n|---|---|---:|---:|---:|---:|---:|---:|"
)


def measure(
    backend: str, device: str, generator: Generator, prompts: Sequence[str], load_seconds: float
) -> Speed:
    """Answer every prompt (after one warm-up answer) and summarise the timings."""
    generator.generate(prompts[0])
    runs: list[Generation] = [generator.generate(prompt) for prompt in prompts]
    decoded = sum(max(0, g.tokens - 1) for g in runs)
    decoding = sum(g.seconds - (g.first_token_seconds or g.seconds) for g in runs)
    firsts = [g.first_token_seconds for g in runs if g.first_token_seconds is not None]
    return Speed(
        backend=backend,
        device=device,
        answers=len(runs),
        load_seconds=round(load_seconds, 2),
        tokens_per_second=round(decoded / decoding, 1) if decoding > 0 else 0.0,
        first_token_seconds=round(statistics.median(firsts), 3) if firsts else 0.0,
        seconds_per_answer=round(statistics.mean(g.seconds for g in runs), 3),
        tokens_per_answer=round(statistics.mean(g.tokens for g in runs), 1),
    )


def run_bench(
    settings: GeneratorSettings,
    *,
    data_dir: Path,
    prompts: int = 10,
    backends: Sequence[str] = BACKENDS,
    card: Path | None = None,
) -> str:
    """Measure each backend on ``prompts`` held-out questions; returns the markdown table.

    Writes ``var/generator/bench.json`` and, when ``card`` is given, its speed section.

    Raises:
        ModelNotFound: If the held-out data, base model or adapter is missing.
    """
    import torch

    from models.base import base_path, hf_checkpoint
    from models.generator import TransformersGenerator

    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise ValueError(f"unknown backends {unknown}; choose from {BACKENDS}")
    if prompts <= 0:
        raise ValueError(f"prompts must be greater than 0, got {prompts}")
    heldout = data_dir / "heldout.jsonl"
    if not heldout.is_file():
        raise ModelNotFound(f"no held-out data at {heldout}: run `python -m training build-data`")
    examples = sample(list(read_jsonl(heldout)), prompts, seed=1)
    limits = Limits(max_new_tokens=settings.max_new_tokens, max_seconds=settings.max_seconds)
    adapter = settings.adapter_dir
    base = base_path(settings)
    speeds: list[Speed] = []
    cpu_label = cpu_name(settings.threads)
    if "llama_cpp" in backends:
        import llama_cpp

        lora = None if adapter is None else adapter / LORA_GGUF
        # The configured thread count and all cores: on a busy machine they differ a lot.
        targets = [(cpu_name(threads), threads, 0) for threads in _thread_counts(settings)]
        if llama_cpp.llama_supports_gpu_offload():
            targets.append(("GPU (llama.cpp offload)", settings.threads, -1))
        for label, threads, layers in targets:
            started = time.perf_counter()
            generator = LlamaCppGenerator.load(
                base, lora, limits, threads=threads, gpu_layers=layers
            )
            loaded = time.perf_counter() - started
            texts = _prompts(generator, examples, settings.prompt_tokens)
            speeds.append(measure("llama_cpp", label, generator, texts, loaded))
            del generator
    if "transformers" in backends:
        checkpoint = hf_checkpoint(base, settings.models_dir)
        started = time.perf_counter()
        generator_hf = TransformersGenerator.load(
            checkpoint, adapter, limits, threads=settings.threads
        )
        loaded = time.perf_counter() - started
        texts = _prompts(generator_hf, examples, settings.prompt_tokens)
        on_gpu = generator_hf.device.type == "cuda"
        label = f"GPU ({torch.cuda.get_device_name(0)})" if on_gpu else cpu_label
        speeds.append(measure("transformers", label, generator_hf, texts, loaded))
    table = "\n".join([HEADER, *(s.row() for s in speeds)])
    BENCH_FILE.parent.mkdir(parents=True, exist_ok=True)
    BENCH_FILE.write_text(json.dumps([asdict(s) for s in speeds], indent=1), encoding="utf-8")
    if card is not None:
        note = (
            f"`make bench-generator`: the fine-tuned model answering {len(examples)} held-out "
            "prompts per backend after one warm-up answer; tokens/s counts decoding after the "
            "first token, greedy, float32 for transformers, Q4_K_M base + f16 LoRA for llama.cpp."
            " No GPU was available for this run unless a GPU row is shown."
        )
        update_card(card, "speed", f"{note}\n\n{table}")
    return table


def cpu_name(threads: int) -> str:
    """'CPU (x86_64, 2 threads of 2 cores)'."""
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {threads} thread{'s' if threads > 1 else ''} of {os.cpu_count()} cores)"


def _thread_counts(settings: GeneratorSettings) -> list[int]:
    return sorted({settings.threads, os.cpu_count() or 1})


def _prompts(generator: Generator, examples: Sequence[Example], budget: int) -> list[str]:
    count = generator.count_tokens
    return [
        build_prompt(e.question, e.context, max_tokens=budget, count_tokens=count).text
        for e in examples
    ]


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.generator`: measure each backend, print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generator",
        description="tokens/s and time to first token per backend",
    )
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--prompts", type=int, default=10)
    parser.add_argument("--backends", default="llama_cpp,transformers")
    parser.add_argument("--no-card", action="store_true", help="leave the model card alone")
    parser.set_defaults(run=_run)
    return run_offline(parser.parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    settings = GeneratorSettings.from_env()
    card = card_file(settings, update=not args.no_card)
    table = run_bench(
        settings,
        data_dir=args.data,
        prompts=args.prompts,
        backends=[b.strip() for b in args.backends.split(",") if b.strip()],
        card=card,
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

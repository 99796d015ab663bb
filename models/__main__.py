"""`python -m models`: build the data, fine-tune, export to GGUF, evaluate, benchmark, generate."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.examples import ContextItem

DATA_DIR = Path("var/generator/data")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from models.errors import GeneratorError

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (GeneratorError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    from models.train import TrainConfig

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser(
        "build-data", help="write train/held-out examples (var/generator/data)"
    )
    data.add_argument("--out", type=Path, default=DATA_DIR)
    data.add_argument("--seed", type=int, default=0)
    data.set_defaults(run=_build_data)

    train = commands.add_parser("train", help="LoRA fine-tuning of the base model")
    train.add_argument("--data", type=Path, default=DATA_DIR)
    train.add_argument("--steps", type=int, default=defaults.steps)
    train.add_argument("--rank", type=int, default=defaults.rank)
    train.add_argument("--alpha", type=int, default=defaults.alpha)
    train.add_argument("--dropout", type=float, default=defaults.dropout)
    train.add_argument("--lr", type=float, default=defaults.learning_rate)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--grad-accum", type=int, default=defaults.grad_accum)
    train.add_argument("--max-length", type=int, default=defaults.max_length)
    train.add_argument("--warmup", type=int, default=defaults.warmup_steps)
    train.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument(
        "--modules", default=",".join(defaults.target_modules), help="LoRA target modules"
    )
    train.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default=defaults.precision,
        help="bf16 autocast or float32 (auto: bf16 where the CPU or GPU does it natively)",
    )
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=_train)

    export = commands.add_parser("export", help="peft adapter -> GGUF LoRA for llama.cpp")
    export.add_argument("--out-type", default="f16", help="f32, f16, bf16 or q8_0")
    export.add_argument(
        "--base-gguf", action="store_true", help="also convert a Hugging Face base to GGUF"
    )
    export.set_defaults(run=_export)

    evaluate = commands.add_parser(
        "evaluate", help="held-out comparison: base, fine-tuned, extractive"
    )
    evaluate.add_argument("--data", type=Path, default=DATA_DIR)
    evaluate.add_argument("--limit", type=int, default=300, help="examples (0: all held-out)")
    evaluate.add_argument("--systems", default="extractive,base,fine-tuned")
    evaluate.add_argument("--no-card", action="store_true", help="leave the model card alone")
    evaluate.set_defaults(run=_evaluate)

    bench = commands.add_parser("bench", help="tokens/s and time to first token per backend")
    bench.add_argument("--data", type=Path, default=DATA_DIR)
    bench.add_argument("--prompts", type=int, default=10)
    bench.add_argument("--backends", default="llama_cpp,transformers")
    bench.add_argument("--no-card", action="store_true", help="leave the model card alone")
    bench.set_defaults(run=_bench)

    bench_zh = commands.add_parser(
        "bench-zh", help="ERP questions in English and Chinese: guard, facts, answer language"
    )
    bench_zh.add_argument("--orders", type=int, default=20)
    bench_zh.add_argument("--invoices", type=int, default=15)
    bench_zh.add_argument("--stock", type=int, default=15)
    bench_zh.add_argument("--seed", type=int, default=0, help="picks records and phrasings")
    bench_zh.add_argument(
        "--max-minutes", type=float, default=0.0, help="stop asking after this long (0: never)"
    )
    bench_zh.add_argument("--out", type=Path, default=None, help="JSON results file")
    bench_zh.set_defaults(run=_bench_zh)

    generate = commands.add_parser("generate", help="answer one question from a context file")
    generate.add_argument("question")
    generate.add_argument(
        "--context", type=Path, required=True, help="a text file, or JSON list of {source, text}"
    )
    generate.set_defaults(run=_generate)
    return parser


def _build_data(args: argparse.Namespace) -> int:
    from models.dataset import build

    print(build(args.out, seed=args.seed).summary())
    return 0


def _train(args: argparse.Namespace) -> int:
    from models.base import base_path, hf_checkpoint
    from models.card import update_card
    from models.settings import THREADS, GeneratorSettings
    from models.train import TrainConfig, train, training_markdown

    settings = GeneratorSettings.from_env()
    if settings.adapter_dir is None:
        raise ValueError("GENERATOR_ADAPTER_DIR is empty: set where the adapter should go")
    config = TrainConfig(
        data_dir=args.data,
        out_dir=settings.adapter_dir,
        rank=args.rank,
        alpha=args.alpha,
        dropout=args.dropout,
        learning_rate=args.lr,
        steps=args.steps,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        max_length=args.max_length,
        warmup_steps=args.warmup,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        target_modules=tuple(m.strip() for m in args.modules.split(",") if m.strip()),
        precision=args.precision,
        # torch's own default (all cores) trains faster than the serving default of cores - 1.
        threads=settings.threads if THREADS.present(os.environ) else 0,
    )
    base = base_path(settings)
    result = train(
        config,
        base_dir=hf_checkpoint(base, settings.models_dir),
        resume=args.resume,
        progress=not args.quiet,
    )
    log = Path("var/generator/train.json")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(json.dumps({"config": config.hyperparameters(), **result.to_json()}, indent=1))
    card = settings.adapter_dir / "README.md"
    update_card(card, "training", training_markdown(config, result, base))
    stats = args.data / "stats.json"
    if stats.is_file():
        from models.card import data_markdown

        update_card(card, "data", data_markdown(json.loads(stats.read_text())))
    print(
        f"Trained {result.steps} steps on {result.device} in {result.precision} "
        f"({result.examples} examples, "
        f"{result.skipped} left out) in {result.seconds:.0f} s, "
        f"{result.seconds_per_step:.1f} s/step; final loss {result.losses[-1]:.3f}"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from models.base import base_path, hf_checkpoint, model_name
    from models.export import export_base, export_lora
    from models.settings import GeneratorSettings

    settings = GeneratorSettings.from_env()
    base = base_path(settings)
    hf_dir = hf_checkpoint(base, settings.models_dir)
    if args.base_gguf and base.is_dir():
        out = export_base(hf_dir, settings.models_dir / f"{model_name(base)}.gguf")
        print(f"Base model GGUF: {out} ({out.stat().st_size / 1e6:.0f} MB)")
    if settings.adapter_dir is None:
        raise ValueError("GENERATOR_ADAPTER_DIR is empty: nothing to export")
    out = export_lora(settings.adapter_dir, hf_dir, out_type=args.out_type)
    print(f"GGUF LoRA: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from models.evaluate import evaluate
    from models.settings import GeneratorSettings

    settings = GeneratorSettings.from_env()
    card = (
        None if args.no_card or settings.adapter_dir is None else settings.adapter_dir / "README.md"
    )
    summary = evaluate(
        settings,
        data_dir=args.data,
        limit=args.limit or None,
        systems=[s.strip() for s in args.systems.split(",") if s.strip()],
        card=card,
    )
    print(summary.markdown())
    return 0


def _bench(args: argparse.Namespace) -> int:
    from models.bench import run_bench
    from models.settings import GeneratorSettings

    settings = GeneratorSettings.from_env()
    card = (
        None if args.no_card or settings.adapter_dir is None else settings.adapter_dir / "README.md"
    )
    table = run_bench(
        settings,
        data_dir=args.data,
        prompts=args.prompts,
        backends=[b.strip() for b in args.backends.split(",") if b.strip()],
        card=card,
    )
    print(table)
    return 0


def _bench_zh(args: argparse.Namespace) -> int:
    from models.bench_chinese import RESULT_FILE, run_bench_zh
    from models.settings import GeneratorSettings

    # Every answer that fails the guard would log a line: the table says it all.
    logging.getLogger("models.answer").setLevel(logging.WARNING)
    out = args.out or RESULT_FILE
    report = run_bench_zh(
        GeneratorSettings.from_env(),
        orders=args.orders,
        invoices=args.invoices,
        stock=args.stock,
        seed=args.seed,
        max_minutes=args.max_minutes,
        out=out,
    )
    print(report.markdown())
    print(f"\nEvery answer: {out}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from models import guard
    from models.generator import load_generator
    from models.prompt import build_prompt
    from models.settings import GeneratorSettings

    settings = GeneratorSettings.from_env()
    context = _read_context(args.context)
    generator = load_generator(settings)
    if generator is None:
        raise ValueError("GENERATOR_BACKEND is off")
    prompt = build_prompt(
        args.question,
        context,
        max_tokens=settings.prompt_tokens,
        count_tokens=generator.count_tokens,
    )
    started = time.perf_counter()
    first: float | None = None
    pieces = []
    for piece in generator.stream(prompt.text):
        first = first if first is not None else time.perf_counter() - started
        pieces.append(piece)
        print(piece, end="", flush=True)
    seconds = time.perf_counter() - started
    answer = "".join(pieces).strip()
    check = guard.check(answer, list(prompt.items))
    print(
        f"\n\n[{generator.name}: {generator.count_tokens(answer)} tokens in {seconds:.2f} s, "
        f"first text after {first or 0:.2f} s; guard "
        f"{'passed' if check.passed else 'FAILED: ' + ', '.join(check.unsupported)}]"
    )
    return 0


def _read_context(path: Path) -> list[ContextItem]:
    from models.examples import ContextItem

    if not path.is_file():
        raise ValueError(f"no such context file: {path}")
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            items = json.loads(raw)
            return [
                ContextItem(
                    source=str(item.get("source", path.name)),
                    text=str(item["text"]),
                    ref=str(item.get("ref", f"{path.name}#{number}")),
                )
                for number, item in enumerate(items, 1)
            ]
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as error:
            raise ValueError(
                f"{path} must hold a JSON list of objects with a 'text' (and 'source'): {error}"
            ) from error
    if not raw.strip():
        raise ValueError(f"{path} is empty")
    return [ContextItem(source=path.stem, text=raw.strip(), ref=path.name)]


if __name__ == "__main__":
    raise SystemExit(main())

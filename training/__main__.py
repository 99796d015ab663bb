"""`python -m training`: build the generator's training data, fine-tune it (LoRA), export the
adapter to GGUF, evaluate it on held-out examples."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from models.cli import run_offline
from training.train import DATA_DIR


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    return run_offline(_parser().parse_args(argv))


def _parser() -> argparse.ArgumentParser:
    from training.train import TrainConfig

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
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

    return parser


def _build_data(args: argparse.Namespace) -> int:
    from training.dataset import build

    print(build(args.out, seed=args.seed).summary())
    return 0


def _train(args: argparse.Namespace) -> int:
    from models.base import base_path, hf_checkpoint
    from models.settings import THREADS, GeneratorSettings
    from training.card import update_card
    from training.train import TrainConfig, train, training_markdown

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
        from training.card import data_markdown

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
    from models.settings import GeneratorSettings
    from training.export import export_base, export_lora

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
    from models.settings import GeneratorSettings
    from training.card import card_file
    from training.evaluate import evaluate

    settings = GeneratorSettings.from_env()
    card = card_file(settings, update=not args.no_card)
    summary = evaluate(
        settings,
        data_dir=args.data,
        limit=args.limit or None,
        systems=[s.strip() for s in args.systems.split(",") if s.strip()],
        card=card,
    )
    print(summary.markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The `python -m bot` command line: train, run and bench."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot import paths


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the Rasa model if its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if nothing changed")
    commands.add_parser("setup", help="seed the demo ERP if empty and train if needed")
    commands.add_parser("run", help="seed, train if needed, and start all processes")
    bench = commands.add_parser("bench", help="measure start-up, training and NLU quality")
    bench.add_argument("--skip-cv", action="store_true", help="skip NLU cross-validation")
    bench.add_argument("--skip-train", action="store_true", help="skip the forced retraining")
    nlu = commands.add_parser(
        "bench-nlu", help="our NLU pipeline vs Rasa's default on CLINC150 and Banking77"
    )
    nlu.add_argument("--quick", action="store_true", help="a few intents and epochs (~2 min)")
    nlu.add_argument("--datasets", nargs="+", default=["clinc150", "banking77"])
    nlu.add_argument("--pipelines", nargs="+", default=["rasa-default", "ours"])
    nlu.add_argument("--report", action="store_true", help="only print the table of past runs")
    nlu.add_argument("--config", type=Path, default=paths.CONFIG_FILE,
                     help="the config whose pipeline is `ours` (default config.yml)")  # fmt: skip
    nlu_zh = commands.add_parser(
        "bench-nlu-zh", help="the bot's NLU on held-out Chinese and English utterances"
    )
    nlu_zh.add_argument("variants", nargs="*", help="whitespace, chars, jieba, jieba-no-encoder")
    commands.add_parser(
        "export-encoder", help="export config.yml's sentence encoder(s) to ONNX (var/encoders)"
    )
    args = parser.parse_args(argv)

    if args.command == "train":
        from bot.training import train as train_model

        train_model(force=args.force)
        return 0
    if args.command == "setup":
        from bot.launcher import setup

        setup()
        return 0
    if args.command == "run":
        from bot.launcher import run

        return run()
    if args.command == "bench-nlu":
        from bot.bench_nlu import main as bench_nlu

        return bench_nlu(args.datasets, args.pipelines, quick=args.quick,
                         report_only=args.report, config_file=args.config)  # fmt: skip
    if args.command == "bench-nlu-zh":
        from bot.bench_nlu_zh import main as bench_nlu_zh

        return bench_nlu_zh(args.variants)
    if args.command == "export-encoder":
        from bot.encoder import ensure_encoders
        from bot.training import encoder_dirs

        for folder in ensure_encoders(encoder_dirs()):
            print(f"Sentence encoder ready: {folder}")
        return 0
    from bot.bench import bench as run_bench

    return run_bench(skip_cv=args.skip_cv, skip_train=args.skip_train)

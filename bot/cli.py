"""The `python -m bot` command line: train, run and bench."""

from __future__ import annotations

import argparse


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
    bench.add_argument("--cold", action="store_true", help="also time `make run` in a fresh clone")
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
    from bot.bench import bench as run_bench

    return run_bench(skip_cv=args.skip_cv, cold=args.cold)

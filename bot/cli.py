"""The `python -m bot` command line: train the Rasa model, set up, run, export the encoder.

The benchmarks are `python -m benchmarks.<name>` (`make help` lists them)."""

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
    from bot.encoder import ensure_encoders
    from bot.training import encoder_dirs

    for folder in ensure_encoders(encoder_dirs()):
        print(f"Sentence encoder ready: {folder}")
    return 0

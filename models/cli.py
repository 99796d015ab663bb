"""How the generator's command lines run a command: offline (no hub downloads), logging on, and
a GeneratorError, ValueError or OSError printed as one line with exit code 1."""

from __future__ import annotations

import argparse
import logging
import os
import sys


def run_offline(args: argparse.Namespace) -> int:
    """Run ``args.run(args)``, the handler an argparse sub-command set, and return its exit code."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from models.errors import GeneratorError

    try:
        return int(args.run(args))
    except (GeneratorError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1

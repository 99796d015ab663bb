"""`make bench-security`: the adversarial suite against a freshly started assistant, as a table.

Starts Rasa, the action server and the gateway on free loopback ports (Telegram and Slack
against local stand-ins of their APIs), runs the owners' controls and every attack of the
catalogue (benchmarks/adversary/catalogue.py) one after another, and prints per family: attempts,
leaks, breaches, errors, attempts that met a lockout, and seconds; then each failing
attempt with what leaked. The table is Markdown, for docs/security.md. Exits 1 when
anything leaked, was breached or failed.

Usage:
    python -m benchmarks.security [--families identity,replay] [--json var/results/security.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.adversary.catalogue import FAMILIES, build_catalogue
from benchmarks.adversary.facts import load_people
from benchmarks.adversary.runner import Outcome, run_all, summary_table
from benchmarks.adversary.stack import StackFailed, attack_stack
from bot import paths
from erp.db import make_engine


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; print the table; 0 when nothing leaked, was breached or failed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.security", description=__doc__)
    parser.add_argument(
        "--families",
        default=",".join(FAMILIES),
        help="comma-separated attack families (default: all)",
    )
    parser.add_argument("--json", type=Path, help="also write every outcome to this file")
    parser.add_argument("--quiet", action="store_true", help="no progress line per attempt")
    args = parser.parse_args(argv)
    families = [name.strip() for name in args.families.split(",") if name.strip()]
    try:
        controls, attacks = build_catalogue(load_people(make_engine()), families=families)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(attacks)} attacks in {len(families)} families, {len(controls)} controls")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="security-", dir=paths.VAR) as work:
        try:
            with attack_stack(Path(work)) as stack:
                print(f"stack up in {time.perf_counter() - started:.0f} s; attacking", flush=True)
                started = time.perf_counter()
                outcomes = run_all(
                    [*controls, *attacks],
                    stack.endpoints,
                    stack.platforms,
                    progress=None if args.quiet else _progress,
                )
                seconds = time.perf_counter() - started
                down = sorted({s.name for s in stack.services} - set(stack.alive()))
        except StackFailed as error:
            print(f"error: the assistant did not start: {error}", file=sys.stderr)
            return 2
    print()
    print(summary_table(outcomes, seconds=seconds))
    failing = [o for o in outcomes if o.leaks or o.breaches or o.errors]
    for outcome in failing:
        print(outcome.describe())
    if down:
        print(f"services that stopped during the run: {', '.join(down)}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([_record(o) for o in outcomes], indent=1))
    return 1 if failing or down else 0


def _progress(outcome: Outcome) -> None:
    mark = (
        "LEAK"
        if outcome.leaks
        else "BREACH"
        if outcome.breaches
        else ("ERROR" if outcome.errors else "ok")
    )
    print(f"  {mark:<6} {outcome.seconds:5.1f} s  {outcome.attempt.name}", flush=True)


def _record(outcome: Outcome) -> dict[str, object]:
    return {
        "family": outcome.family,
        "name": outcome.attempt.name,
        "leaks": [str(leak) for leak in outcome.leaks],
        "breaches": outcome.breaches,
        "errors": outcome.errors,
        "lockouts": outcome.lockouts,
        "control": outcome.control,
        "seconds": round(outcome.seconds, 2),
    }


if __name__ == "__main__":
    sys.exit(main())

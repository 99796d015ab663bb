"""`make bench-load`: locust users holding realistic web chat conversations with a fresh
assistant, generator on and off, at several numbers of users; one Markdown table.

For each generator setting a whole stack starts (benchmarks/load/stack.py, state and logs in its own
directory under var/bench/load/), then locust runs headless once per number of users with the
users of benchmarks/load/locustfile.py. The table gives per kind of turn the p50/p95/p99 seconds to
the first text and to the final answer, errors and off-script replies; each run's ``all`` row
gives answered turns/s and, with the generator on, that throughput as a share of the same
run with it off. Below it, how many ERP and document answers used generated wording.
Raw figures go to ``--out`` (JSON); locust's own CSVs stay beside each run's turns.

Usage:
    python -m benchmarks.load.run [--users 10,50,100] [--duration 60] [--spawn-rate N]
        [--generator on,off] [--think 5-10] [--out var/bench/load.json] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from benchmarks.load.cast import load_cast, write_cast
from benchmarks.load.records import read_turns
from benchmarks.load.report import Run, markdown_table, summarise, throughput_ratio
from benchmarks.load.scripts import think_range
from benchmarks.load.stack import LoadStack, StackFailed, load_stack
from benchmarks.load.wording import count_since, log_size, share_text
from bot import paths

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
DEFAULT_OUT = paths.VAR / "bench" / "load.json"
# Locust's own start and stop, on top of the run's duration, before it is called stuck.
LOCUST_GRACE_S = 120.0


class RunFailed(RuntimeError):
    """Locust could not run (its exit code and output's tail are in the message)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the matrix; print the table; 2 when a stack or a locust run could not start."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", default="10,50,100", help="numbers of concurrent users")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per run")
    parser.add_argument("--spawn-rate", type=float, default=10.0, help="users started per s")
    parser.add_argument("--generator", default="on,off", help="generator settings: on, off")
    parser.add_argument("--think", default="5-10", help="seconds between a user's messages")
    parser.add_argument("--turn-timeout", type=float, default=60.0, help="seconds per turn")
    parser.add_argument(
        "--settle", type=float, default=1.0, help="quiet seconds after typing ends a turn"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="raw results (JSON)")
    parser.add_argument(
        "--work", type=Path, help="state, logs and turns (default: var/bench/load/<time>)"
    )
    args = parser.parse_args(argv)
    try:
        users = positive_ints(args.users)
        generators = generator_settings(args.generator)
        think_range(args.think)
        if min(args.duration, args.spawn_rate, args.turn_timeout) <= 0 or args.settle < 0:
            raise ValueError(
                "--duration, --spawn-rate and --turn-timeout must be greater than 0, "
                "--settle at least 0"
            )
    except ValueError as error:
        parser.error(str(error))
    root = args.work or paths.VAR / "bench" / "load" / time.strftime("%Y%m%d-%H%M%S")
    cast_file = root / "cast.json"
    try:
        from erp.db import make_engine

        write_cast(load_cast(make_engine()), cast_file)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    runs: list[Run] = []
    failures: list[str] = []
    for generator in generators:
        work = root / f"generator-{generator}"
        print(f"generator {generator}: starting the assistant in {work}", flush=True)
        try:
            with load_stack(work, generator=generator == "on") as stack:
                for count in users:
                    print(f"  {count} users for {args.duration:g} s", flush=True)
                    run = run_once(stack, work, args, generator=generator, users=count,
                                   cast_file=cast_file)  # fmt: skip
                    runs.append(run)
                    print(f"  {run.turns} turns, {run.errors} errors, "
                          f"{run.answered_per_s:.2f} answered/s", flush=True)  # fmt: skip
        except (StackFailed, RunFailed) as error:
            failures.append(f"generator {generator}: {error}")
            print(f"error: generator {generator}: {error}", file=sys.stderr)
    print()
    print(report(runs, think=args.think))
    write_results(args.out, runs, args=vars(args), failures=failures)
    print(f"\nraw results: {args.out}")
    return 2 if failures else 0


def run_once(
    stack: LoadStack,
    work: Path,
    args: argparse.Namespace,
    *,
    generator: str,
    users: int,
    cast_file: Path,
) -> Run:
    """One headless locust run against ``stack``; its figures.

    Raises:
        RunFailed: locust exited with an error or did not finish in time.
    """
    records = work / f"users-{users}.jsonl"
    actions_log = stack.logs_dir / "actions.log"
    offset = log_size(actions_log)
    cpu_before = stack.cpu_seconds()
    command = locust_command(
        host=stack.url,
        users=users,
        spawn_rate=args.spawn_rate,
        seconds=args.duration,
        think=args.think,
        cast=cast_file,
        records=records,
        csv_prefix=work / f"users-{users}",
        turn_timeout=args.turn_timeout,
        settle=args.settle,
    )
    log = work / f"users-{users}-locust.log"
    with log.open("wb") as out:
        try:
            # So that the locustfile, loaded by path, imports benchmarks.load.
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                p for p in (str(paths.ROOT), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
            code = subprocess.run(command, cwd=paths.ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT,
                                  timeout=args.duration + LOCUST_GRACE_S).returncode  # fmt: skip
        except subprocess.TimeoutExpired:
            raise RunFailed(f"locust did not finish {users} users in time: see {log}") from None
    if code != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RunFailed(f"locust exited with code {code} ({log}):\n{tail}")
    run = summarise(read_turns(records), generator=generator, users=users, seconds=args.duration)
    return replace(
        run,
        wording=count_since(actions_log, offset),
        down=stack.down(),
        load_average=round(os.getloadavg()[0], 2),
        cpu_seconds={
            name: round(seconds - cpu_before.get(name, 0.0), 1)
            for name, seconds in stack.cpu_seconds().items()
        },
    )


def locust_command(
    *,
    host: str,
    users: int,
    spawn_rate: float,
    seconds: float,
    think: str,
    cast: Path,
    records: Path,
    csv_prefix: Path,
    turn_timeout: float,
    settle: float,
) -> list[str]:
    """The headless locust command line of one run."""
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", host, "-u", str(users), "-r", f"{spawn_rate:g}", "-t", f"{seconds:g}s",
        "--csv", str(csv_prefix), "--only-summary", "--loglevel", "WARNING",
        # Errors are what is measured, not a reason for a failed run.
        "--exit-code-on-error", "0",
        "--think", think, "--cast", str(cast), "--records", str(records),
        "--turn-timeout", f"{turn_timeout:g}", "--settle", f"{settle:g}",
    ]  # fmt: skip


def report(runs: Sequence[Run], *, think: str) -> str:
    """The table, then the throughput ratios and the wording shares per run."""
    lines = [
        f"Think time {think} s between a user's messages; times are seconds from sending to "
        "the first text (draft or reply) and to the final answer.",
        "",
        markdown_table(runs),
        "",
    ]
    for count in sorted({r.users for r in runs}):
        ratio = throughput_ratio(runs, count)
        if ratio is not None:
            lines.append(f"- throughput with the generator on / off at {count} users: {ratio:.0%}")
    for run in runs:
        load = "" if run.load_average is None else f"; load average {run.load_average:g}"
        lines.append(f"- generator {run.generator}, {run.users} users: wording of answers "
                     f"{share_text(run.wording)}{load}")  # fmt: skip
        if run.cpu_seconds:
            used = ", ".join(f"{name} {s:.0f}" for name, s in run.cpu_seconds.items())
            available = run.seconds * (os.cpu_count() or 1)
            lines.append(f"  - CPU seconds in the run: {used} (of {available:.0f} on the machine)")
        if run.down:
            lines.append(f"  - processes down after the run: {', '.join(run.down)}")
    return "\n".join(lines)


def write_results(
    path: Path, runs: Sequence[Run], *, args: dict[str, object], failures: list[str]
) -> None:
    """Save every run's figures, the options and what failed, as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "options": {key: str(value) for key, value in args.items()},
        "failures": failures,
        "runs": [
            {
                **asdict(run),
                "turns": run.turns,
                "errors": run.errors,
                "answered_per_s": round(run.answered_per_s, 3),
                "on_off_ratio": throughput_ratio(runs, run.users)
                if run.generator == "on"
                else None,
            }
            for run in runs
        ],  # fmt: skip
    }
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def positive_ints(text: str) -> list[int]:
    """``"10,50,100"`` → [10, 50, 100].

    Raises:
        ValueError: a part is not a whole number greater than 0.
    """
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part.isdigit() or int(part) <= 0:
            raise ValueError(f"numbers of users must be whole numbers above 0, got {part!r}")
        values.append(int(part))
    return values


def generator_settings(text: str) -> list[str]:
    """``"on,off"`` → ["on", "off"].

    Raises:
        ValueError: a part is neither on nor off.
    """
    settings = [part.strip().lower() for part in text.split(",")]
    wrong = [s for s in settings if s not in ("on", "off")]
    if wrong or not settings:
        raise ValueError(f"--generator takes on and/or off, got {text!r}")
    return settings


if __name__ == "__main__":
    sys.exit(main())

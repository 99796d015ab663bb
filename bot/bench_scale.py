"""`make bench-scale`: the production profile under the load test's web chat users, with one
and with two replicas of Rasa and the action server behind HAProxy, then faults during load.

1. Scaling: for each number of replicas a fresh stack starts (PROFILE=production under its own
   PRODUCTION_NAME, generator off: the dialogue path is what replicas scale; the generator is a
   process of its own), and locust runs the users of bot/load/locustfile.py against it. The
   table gives turns/s and p50/p95 per kind of turn (bot/load/report.py).
2. Faults (two replicas): during one locust run, at fixed times, SIGKILL one replica of Rasa,
   one of the action server and the gateway (each started again 2 s later, as the launcher's
   supervisor does), then restart PostgreSQL, Redis and RabbitMQ once each. Every turn is
   attributed to the fault whose window it started in: turns, answered, errors (a clear error
   reply or no answer within the turn timeout).

Usage:
    python -m bot.bench_scale [--users 40] [--duration 60] [--think 1-3] [--replicas 1,2]
        [--fault-gap 15] [--no-faults] [--out var/bench/scale.json]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path

from bot import paths
from bot.bench_load import RunFailed, positive_ints, run_once
from bot.launcher import prepare_profile
from bot.load.cast import load_cast, write_cast
from bot.load.records import Turn, read_turns
from bot.load.report import Run, markdown_table
from bot.load.stack import LoadStack, StackFailed, load_stack
from bot.profile import ACCOUNT_SECRETS, Production
from bot.provision import Provisioned, redis_acl, redis_gateway_acl, reset
from bot.secrets import shared_secrets

DEFAULT_OUT = paths.VAR / "bench" / "scale.json"
NAME = "erp_bench_scale"
LOCK_DB = "5"
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


@dataclass(frozen=True)
class FaultWindow:
    """The turns that started between one fault and the next (or the run's end)."""

    fault: str
    at_s: float
    turns: int
    answered: int
    errors: int
    examples: list[str]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scaling comparison and the fault run; print the tables; 2 on a failed stack."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.bench_scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=40, help="concurrent web chat users")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per scaling run")
    parser.add_argument("--think", default="1-3", help="seconds between a user's messages")
    parser.add_argument("--replicas", default="1,2", help="replica counts to compare")
    parser.add_argument("--fault-gap", type=float, default=15.0, help="seconds between faults")
    parser.add_argument("--no-faults", action="store_true", help="skip the fault run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="raw results (JSON)")
    args = parser.parse_args(argv)
    try:
        counts = positive_ints(args.replicas)
    except ValueError as error:
        parser.error(str(error))
    root = paths.VAR / "bench" / "scale" / time.strftime("%Y%m%d-%H%M%S")
    cast_file = root / "cast.json"
    from erp.db import make_engine

    write_cast(load_cast(make_engine()), cast_file)
    runs: list[Run] = []
    windows: list[FaultWindow] = []
    try:
        for count in counts:
            work = root / f"replicas-{count}"
            print(f"{count} replica(s): starting the assistant in {work}", flush=True)
            with production_stack(work, count) as stack:
                run = run_once(stack, work, _load_args(args, args.duration), generator="off",
                               users=args.users, cast_file=cast_file)  # fmt: skip
            runs.append(_labelled(run, count))
            print(f"  {run.turns} turns, {run.errors} errors, {run.answered_per_s:.2f}/s")
        if not args.no_faults:
            windows = fault_run(root / "faults", args, cast_file)
    except (StackFailed, RunFailed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print(report(runs, windows, args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "args": {k: str(v) for k, v in vars(args).items()},
        "runs": [asdict(r) for r in runs],
        "faults": [asdict(w) for w in windows],
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, indent=2))  # fmt: skip
    print(f"\nraw results: {args.out}")
    return 0


def production_stack(work: Path, replicas: int) -> AbstractContextManager[LoadStack]:
    """A fresh stack on the production profile under NAME (emptied first)."""
    env = {"PROFILE": "production", "PRODUCTION_NAME": NAME, "RASA_LOCK_REDIS_DB": LOCK_DB}
    reset(Production.from_env(env))
    profile = prepare_profile(env, secrets_file=work / "secrets.json")
    return load_stack(work, generator=False, profile={**env, **profile}, replicas=replicas)


def fault_run(work: Path, args: argparse.Namespace, cast_file: Path) -> list[FaultWindow]:
    """One locust run on two replicas with the faults injected on schedule."""
    settings = Production.from_env({"PRODUCTION_NAME": NAME, "RASA_LOCK_REDIS_DB": LOCK_DB})
    print(f"faults: starting the assistant in {work}", flush=True)
    with production_stack(work, 2) as stack:
        passwords = shared_secrets(work / "secrets.json", environ={}, names=ACCOUNT_SECRETS)
        faults: list[tuple[str, Callable[[], None]]] = [
            ("none (before the first fault)", lambda: None),
            ("SIGKILL rasa-1", lambda: _kill(stack, "rasa-1")),
            ("SIGKILL actions-1", lambda: _kill(stack, "actions-1")),
            ("SIGKILL gateway-1", lambda: _kill(stack, "gateway-1")),
            ("restart PostgreSQL", _restart_postgres),
            ("restart Redis", lambda: _restart_redis(settings, passwords)),
            ("restart RabbitMQ", _restart_rabbitmq),
        ]
        started = time.time()
        times: list[float] = []
        stop = threading.Event()

        def inject() -> None:
            for index, (name, fault) in enumerate(faults):
                if stop.wait(0 if index == 0 else args.fault_gap):
                    return
                times.append(time.time())
                print(f"  {time.time() - started:5.1f} s: {name}", flush=True)
                fault()

        injector = threading.Thread(target=inject, daemon=True)
        injector.start()
        duration = args.fault_gap * len(faults) + 10
        try:
            run_once(stack, work, _load_args(args, duration), generator="off",
                     users=max(4, args.users // 4), cast_file=cast_file)  # fmt: skip
        finally:
            stop.set()
            injector.join(timeout=120)
        turns = read_turns(work / f"users-{max(4, args.users // 4)}.jsonl")
    return windows_of(turns, [name for name, _ in faults], times, started)


def windows_of(
    turns: Sequence[Turn], names: list[str], times: list[float], started: float
) -> list[FaultWindow]:
    """Each fault's turns: those sent from its time to the next fault's."""
    windows = []
    for index, (name, at) in enumerate(zip(names, times, strict=False)):
        end = times[index + 1] if index + 1 < len(times) else float("inf")
        mine = [t for t in turns if at <= t.at < end]
        errors = [t for t in mine if t.error is not None]
        windows.append(FaultWindow(
            fault=name, at_s=round(at - started, 1), turns=len(mine),
            answered=len(mine) - len(errors), errors=len(errors),
            examples=sorted({(t.error or "")[:80] for t in errors})[:3],
        ))  # fmt: skip
    return windows


def report(runs: Sequence[Run], windows: Sequence[FaultWindow], args: argparse.Namespace) -> str:
    lines = [
        f"{args.users} web chat users, think time {args.think} s, {args.duration:g} s per run, "
        "generator off; the `generator` column holds the number of replicas.",
        "",
        markdown_table(runs),
    ]
    rates = {r.generator: r.answered_per_s for r in runs}
    if "1 replica" in rates and "2 replicas" in rates and rates["1 replica"]:
        lines += ["", f"2 replicas / 1 replica: {rates['2 replicas'] / rates['1 replica']:.2f}x "
                  "answered turns/s"]  # fmt: skip
    if windows:
        lines += ["", "| fault | at (s) | turns | answered | errors | errors seen |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {w.fault} | {w.at_s:g} | {w.turns} | {w.answered} | {w.errors} | "
                  f"{'; '.join(w.examples) or '-'} |" for w in windows]  # fmt: skip
    return "\n".join(lines)


def _load_args(args: argparse.Namespace, duration: float) -> argparse.Namespace:
    return argparse.Namespace(duration=duration, spawn_rate=10.0, think=args.think,
                              turn_timeout=60.0, settle=1.0)  # fmt: skip


def _labelled(run: Run, replicas: int) -> Run:
    from dataclasses import replace

    return replace(run, generator=f"{replicas} replica{'' if replicas == 1 else 's'}")


def _kill(stack: LoadStack, name: str) -> None:
    service = next(s for s in stack.services if s.name == name)
    if service.process is not None:
        service.process.send_signal(signal.SIGKILL)
        service.process.wait(timeout=30)
    time.sleep(2)
    service.start()


def _restart_postgres() -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip


def _restart_redis(settings: Production, passwords: dict[str, str]) -> None:
    subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True, timeout=60)
    time.sleep(1)
    subprocess.run(REDIS_START, check=True, capture_output=True, timeout=60)
    for _ in range(50):
        if subprocess.run(["redis-cli", "ping"], capture_output=True, timeout=10).returncode == 0:
            break
        time.sleep(0.2)
    # This machine's Redis keeps nothing on disk, ACL users included: a Redis with its ACL in
    # its configuration (aclfile) would keep them; here they are applied again, as at start.
    redis_acl(settings, passwords["RASA_LOCK_REDIS_PASSWORD"], Provisioned())
    redis_gateway_acl(settings, passwords["GATEWAY_REDIS_PASSWORD"], Provisioned())


def _restart_rabbitmq() -> None:
    for command in ("stop_app", "start_app"):
        subprocess.run(["rabbitmqctl", "-q", command], check=True, capture_output=True,
                       timeout=120)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())

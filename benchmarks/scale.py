"""`make bench-scale`: the production profile under the load test's web chat users, with one
and with two replicas of the gateway, Rasa and the action server behind HAProxy, then faults
during load.

1. Scaling: for each number of replicas a fresh stack starts (PROFILE=production under its own
   PRODUCTION_NAME, generator off: the dialogue path is what replicas scale; the generator is a
   process of its own), and locust runs the users of benchmarks/load/locustfile.py against it. With
   several replicas the users carry the balancer's sticky cookie of each gateway replica in
   turn, as browsers the balancer placed do (every simulated user comes from 127.0.0.1, which
   the balancer's address hash would put on one replica). The table gives turns/s and p50/p95
   per kind of turn (benchmarks/load/report.py).
2. Faults (two replicas): during one locust run, at fixed times, SIGKILL one replica of Rasa,
   one of the action server and one of the gateway (each started again 2 s later, as the
   launcher's supervisor does), then restart PostgreSQL, Redis and RabbitMQ once each. Every
   turn is attributed to the fault whose window it started in: turns, answered, errors (a
   clear error: an error reply, or the socket dropped with no reply in the resumed session's
   history) and unanswered (neither an answer nor a clear error: a lost message).

`--short` is what CI runs (tests/e2e/test_scale_short.py): both, short: 4 users for 20 s on one
and on two replicas, then the fault run with a fault every 8 s (about a minute and a half).

Usage:
    python -m benchmarks.scale [--users 40] [--duration 60] [--think 1-3] [--replicas 1,2]
        [--fault-gap 15] [--no-faults] [--short] [--name erp_bench_scale] [--lock-db 5]
        [--out var/bench/scale.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.load.cast import load_cast, write_cast
from benchmarks.load.records import Turn, read_turns
from benchmarks.load.report import Run, markdown_table
from benchmarks.load.run import RunFailed, positive_ints, run_once
from benchmarks.load.scripts import CONNECT
from benchmarks.load.stack import LoadStack, StackFailed, load_stack
from benchmarks.load.webchat import ERROR_PHRASES
from bot import paths
from bot.balancer import STICKY_COOKIE
from bot.launcher import prepare_profile
from bot.profile import ACCOUNT_SECRETS, Production
from bot.provision import Provisioned, redis_acl, redis_gateway_acl, reset
from bot.secrets import shared_secrets

DEFAULT_OUT = paths.VAR / "bench" / "scale.json"
NAME = "erp_bench_scale"
LOCK_DB = "5"
# --short: users, seconds of each scaling run, seconds between faults (7 faults: about a
# minute and a half of load).
SHORT_USERS = 4
SHORT_DURATION_S = 20.0
SHORT_FAULT_GAP_S = 8.0
# Seconds of the fault run beyond one gap per fault: the faults' own time, and a last window.
FAULTS_OWN_S = 40.0
# The gateway answers or gives up on Rasa within RASA_TIMEOUT (30 s, generator off): a turn
# still waiting after this got neither, and counts as unanswered.
TURN_TIMEOUT_S = 40.0
# How a turn's error starts when the user was told (benchmarks/load/webchat.py): an error reply, or
# the widget's socket dropped and the resumed session showed no reply.
CLEAR_ERRORS = ("error reply:", "disconnected", "not sent: the socket dropped")
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
    # Messages with neither an answer nor a clear error (no end of turn within the timeout, a
    # turn that ended without a reply): lost. Failed connections are errors, not messages.
    unanswered: int = 0
    # Turns of windows whose socket had dropped (a gateway replica died) and that connected
    # again through the balancer.
    reconnected: int = 0
    # When the fault began (epoch seconds), to place turns in windows afterwards.
    at: float = 0.0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scaling comparison and the fault run; print the tables; 2 on a failed stack."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=40, help="concurrent web chat users")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per scaling run")
    parser.add_argument("--think", default="1-3", help="seconds between a user's messages")
    parser.add_argument("--replicas", default="1,2", help="replica counts to compare")
    parser.add_argument("--fault-gap", type=float, default=15.0, help="seconds between faults")
    parser.add_argument("--no-faults", action="store_true", help="skip the fault run")
    parser.add_argument(
        "--short",
        action="store_true",
        help=f"both, short: {SHORT_USERS} users, {SHORT_DURATION_S:g} s per replica count, a "
        f"fault every {SHORT_FAULT_GAP_S:g} s (what CI runs)",
    )
    parser.add_argument("--name", default=NAME, help="PRODUCTION_NAME of the runs' stacks")
    parser.add_argument("--lock-db", default=LOCK_DB, help="their Redis db (RASA_LOCK_REDIS_DB)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="raw results (JSON)")
    args = parser.parse_args(argv)
    if args.short:
        args.users, args.duration = SHORT_USERS, SHORT_DURATION_S
        args.fault_gap = SHORT_FAULT_GAP_S
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
            with production_stack(work, count, args) as stack, sticky_users(count):
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
        # Where the fault run's turns and account passwords are, to check its transcripts.
        "fault_work": str(root / "faults") if windows else None,
        "fault_records": str(fault_records(root / "faults", args)) if windows else None,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, indent=2))  # fmt: skip
    print(f"\nraw results: {args.out}")
    return 0


def production_stack(
    work: Path, replicas: int, args: argparse.Namespace
) -> AbstractContextManager[LoadStack]:
    """A fresh stack on the production profile under ``args.name`` (emptied first)."""
    env = {
        "PROFILE": "production",
        "PRODUCTION_NAME": args.name,
        "RASA_LOCK_REDIS_DB": args.lock_db,
    }
    reset(Production.from_env(env))
    profile = prepare_profile(env, secrets_file=work / "secrets.json")
    return load_stack(work, generator=False, profile={**env, **profile}, replicas=replicas)


@contextmanager
def sticky_users(replicas: int) -> Iterator[None]:
    """With several replicas, the locust users carry each gateway replica's sticky cookie in
    turn (the locustfile's ``--sticky-cookies``, through its environment variable)."""
    name = "LOCUST_STICKY_COOKIES"
    previous = os.environ.get(name)
    if replicas > 1:
        cookies = (f"{STICKY_COOKIE}=gateway-{i}" for i in range(1, replicas + 1))
        os.environ[name] = ",".join(cookies)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def fault_users(args: argparse.Namespace) -> int:
    """Users of the fault run: a quarter of the scaling runs', at least SHORT_USERS."""
    return max(SHORT_USERS, args.users // 4)


def fault_records(work: Path, args: argparse.Namespace) -> Path:
    """The fault run's turns (JSON Lines, benchmarks/load/records.py)."""
    return work / f"users-{fault_users(args)}.jsonl"


def fault_run(work: Path, args: argparse.Namespace, cast_file: Path) -> list[FaultWindow]:
    """One locust run on two replicas with the faults injected on schedule."""
    settings = Production.from_env(
        {"PRODUCTION_NAME": args.name, "RASA_LOCK_REDIS_DB": args.lock_db}
    )
    print(f"faults: starting the assistant in {work}", flush=True)
    with production_stack(work, 2, args) as stack, sticky_users(2):
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
        # The faults take time of their own (a kill waits 2 s, PostgreSQL took 14 s to
        # restart under load): the run lasts long enough for the last one to have a window.
        duration = args.fault_gap * len(faults) + FAULTS_OWN_S
        try:
            run_once(stack, work, _load_args(args, duration), generator="off",
                     users=fault_users(args), cast_file=cast_file)  # fmt: skip
        finally:
            stop.set()
            injector.join(timeout=120)
        turns = read_turns(fault_records(work, args))
    missed = [name for name, _ in faults[len(times) :]]
    if missed:
        print(f"  the run ended before these faults: {', '.join(missed)}", flush=True)
    return windows_of(turns, [name for name, _ in faults], times, started)


def clear_error(error: str) -> bool:
    """Whether a turn's error is one the user saw (an error reply, the socket dropping)."""
    return error.startswith(CLEAR_ERRORS) or any(p in error.lower() for p in ERROR_PHRASES)


def windows_of(
    turns: Sequence[Turn], names: list[str], times: list[float], started: float
) -> list[FaultWindow]:
    """Each fault's turns: those sent from its time to the next fault's."""
    windows = []
    for index, (name, at) in enumerate(zip(names, times, strict=False)):
        end = times[index + 1] if index + 1 < len(times) else float("inf")
        mine = [t for t in turns if at <= t.at < end and not t.cut_off]
        errors = [t for t in mine if t.error is not None]
        windows.append(FaultWindow(
            fault=name, at_s=round(at - started, 1), turns=len(mine),
            answered=len(mine) - len(errors), errors=len(errors),
            examples=sorted({(t.error or "")[:80] for t in errors})[:3],
            unanswered=sum(t.kind != CONNECT and not clear_error(t.error or "") for t in errors),
            reconnected=sum(t.reconnected for t in mine), at=at,
        ))  # fmt: skip
    return windows


def report(runs: Sequence[Run], windows: Sequence[FaultWindow], args: argparse.Namespace) -> str:
    lines = []
    if runs:
        lines += [
            f"{args.users} web chat users, think time {args.think} s, {args.duration:g} s per "
            "run, generator off; the `generator` column holds the number of replicas.",
            "",
            markdown_table(runs),
        ]
    rates = {r.generator: r.answered_per_s for r in runs}
    if "1 replica" in rates and "2 replicas" in rates and rates["1 replica"]:
        lines += ["", f"2 replicas / 1 replica: {rates['2 replicas'] / rates['1 replica']:.2f}x "
                  "answered turns/s"]  # fmt: skip
    if windows:
        lines += ["", f"Faults: {fault_users(args)} users, a fault every {args.fault_gap:g} s.",
                  "", "| fault | at (s) | turns | answered | errors | unanswered | reconnected "
                  "| errors seen |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {w.fault} | {w.at_s:g} | {w.turns} | {w.answered} | {w.errors} | "
                  f"{w.unanswered} | {w.reconnected} | {'; '.join(w.examples) or '-'} |"
                  for w in windows]  # fmt: skip
    return "\n".join(lines)


def _load_args(args: argparse.Namespace, duration: float) -> argparse.Namespace:
    return argparse.Namespace(duration=duration, spawn_rate=10.0, think=args.think,
                              turn_timeout=TURN_TIMEOUT_S, settle=1.0)  # fmt: skip


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

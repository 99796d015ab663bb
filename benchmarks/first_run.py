"""`make bench-first-run`: a new user's `make run`, timed to the first correct answers.

Three runs, each `make run` in a fresh `git clone` of this checkout (no virtualenvs, no var/):

1. **cold**: pip's cache and the user's cache (``PIP_CACHE_DIR``, ``XDG_CACHE_HOME``: the
   llama.cpp wheel cache lives there) empty, as on a fresh machine;
2. **warm restart**: `make run` again in that clone, nothing changed;
3. **warm cache**: a second fresh clone with the caches the cold run filled.

For each: seconds from `make run` to the first correct ERP answer ("is <SKU> in stock?",
answered with the availability the seeded ERP holds), to the first cited document answer
(the returns window of data/company.yml, with its source), and until the generator's server
answers (generated wording on). The launcher's own lines (`make-run.log` of each clone) are
kept beside the JSON results.

Usage:
    python -m benchmarks.first_run [--out var/bench/first-run.json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import yaml

from bot import paths
from bot.launcher import listening
from bot.settings import free_port

DEFAULT_OUT = paths.VAR / "bench" / "first-run.json"
ANSWER_TIMEOUT_S = 1800.0
GENERATOR_TIMEOUT_S = 3600.0
DOCUMENT_QUESTION = "How many days do I have to return an item?"


@dataclass(frozen=True)
class FirstRun:
    """One `make run`: seconds from its start to each first."""

    run: str
    erp_answer_s: float | None
    document_answer_s: float | None
    generator_on_s: float | None
    erp_reply: str
    document_reply: str


@dataclass
class Clone:
    """A fresh clone and the environment its `make run` gets."""

    folder: Path
    env: dict[str, str]

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    @property
    def generator(self) -> str:
        return f"http://127.0.0.1:{self.env['GENERATOR_PORT']}"


def clone(work: Path, name: str, caches: Path) -> Clone:
    folder = work / name
    subprocess.run(["git", "clone", "-q", str(paths.ROOT), str(folder)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ERP_", "GENERATOR_", "RASA_", "VIRTUAL_ENV", "PROFILE"))
    }
    env.update(
        PIP_CACHE_DIR=str(caches / "pip"),
        XDG_CACHE_HOME=str(caches / "user"),
        PORT=str(free_port()),
        RASA_PORT=str(free_port()),
        ACTIONS_PORT=str(free_port()),
        GENERATOR_PORT=str(free_port()),
    )
    env.pop("LLAMA_WHEEL_CACHE", None)
    return Clone(folder, env)


def expected_stock(folder: Path) -> tuple[str, int]:
    """A SKU in stock in every warehouse of the clone's seeded ERP, and its availability."""
    from sqlalchemy import create_engine

    from demo.records import in_stock_everywhere

    engine = create_engine(f"sqlite:///{folder / 'var' / 'erp.db'}")
    try:
        with engine.connect() as connection:
            return in_stock_everywhere(connection)
    finally:
        engine.dispose()


def returns_window() -> int:
    company = yaml.safe_load((paths.ROOT / "data" / "company.yml").read_text())
    return int(company["returns"]["window_days"])


def reply_text(client: httpx.Client, sender: str, text: str) -> str:
    response = client.post("/api/messages", json={"sender_id": sender, "text": text})
    if response.status_code != 200:
        return ""
    return "\n".join(m.get("text") or "" for m in response.json().get("messages", []))


def until(
    check: Callable[[], str | None], *, alive: Callable[[], bool], timeout: float
) -> str | None:
    """Call ``check`` until it returns a text (done) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("`make run` stopped before the measure was taken")
        try:
            found = check()
        except (httpx.HTTPError, OSError):
            found = None
        if found is not None:
            return found
        time.sleep(0.5)
    return None


def measure(target: Clone, run: str, *, generator: bool = True) -> FirstRun:
    """`make run` in ``target``: the firsts, then Ctrl-C."""
    log = target.folder / f"make-run-{run.replace(' ', '-')}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "run"], cwd=target.folder, env=target.env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=interruptible,
        )  # fmt: skip
    alive = lambda: process.poll() is None  # noqa: E731
    replies: dict[str, str] = {}
    try:
        with httpx.Client(base_url=target.gateway, timeout=30) as client:
            until(lambda: "ok" if client.get("/healthz").status_code == 200 else None,
                  alive=alive, timeout=ANSWER_TIMEOUT_S)  # fmt: skip
            sku, available = expected_stock(target.folder)

            def erp() -> str | None:
                text = reply_text(client, f"bench-erp-{time.monotonic_ns()}", f"is {sku} in stock?")
                return text if sku in text and f"{available} available" in text else None

            found = until(erp, alive=alive, timeout=ANSWER_TIMEOUT_S)
            erp_s = time.monotonic() - started if found else None
            replies["erp"] = found or ""
            days = returns_window()

            def document() -> str | None:
                text = reply_text(client, f"bench-doc-{time.monotonic_ns()}", DOCUMENT_QUESTION)
                return text if str(days) in text and "Source" in text else None

            found = until(document, alive=alive, timeout=ANSWER_TIMEOUT_S)
            document_s = time.monotonic() - started if found else None
            replies["document"] = found or ""
        generator_s = None
        if generator:
            health = f"{target.generator}/health"
            found = until(
                lambda: "ok" if httpx.get(health, timeout=5).status_code == 200 else None,
                alive=alive, timeout=GENERATOR_TIMEOUT_S,
            )  # fmt: skip
            generator_s = time.monotonic() - started if found else None
    finally:
        stop(process)
        # make exits at the interrupt; the launcher then stops its processes, the gateway
        # first: the next run must wait for all of them.
        names = ("PORT", "RASA_PORT", "ACTIONS_PORT", "GENERATOR_PORT")
        until(lambda: None if any(listening(int(target.env[n])) for n in names) else "free",
              alive=lambda: True, timeout=180)  # fmt: skip
    result = FirstRun(run, erp_s, document_s, generator_s, replies.get("erp", ""),
                      replies.get("document", ""))  # fmt: skip
    print(f"{run}: ERP {seconds(erp_s)}, document {seconds(document_s)}, "
          f"generator {seconds(generator_s)}", flush=True)  # fmt: skip
    return result


def interruptible() -> None:
    """In `make run`'s child: Ctrl-C's default action back. A job started in the background
    of a shell ignores SIGINT, and Python then never turns it into KeyboardInterrupt: the
    launcher would not stop its processes as it does at a user's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def seconds(value: float | None) -> str:
    if value is None:
        return "none"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min ({value:.0f} s)"


def table(runs: Sequence[FirstRun]) -> str:
    lines = [
        "| run | first ERP answer | first document answer | generated answers on |",
        "|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run.run} | {seconds(run.erp_answer_s)} | {seconds(run.document_answer_s)} | "
            f"{seconds(run.generator_on_s)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.first_run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results (JSON)")
    parser.add_argument("--keep", action="store_true", help="keep the clones and caches")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="first-run-"))
    caches = work / "caches"
    runs: list[FirstRun] = []
    try:
        first = clone(work, "cold", caches)
        runs.append(measure(first, "cold (empty pip and user caches)"))
        runs.append(measure(first, "warm restart (same clone, nothing changed)"))
        second = clone(work, "warm", caches)
        runs.append(measure(second, "new clone, warm caches"))
    finally:
        logs = args.out.parent / "first-run-logs"
        logs.mkdir(parents=True, exist_ok=True)
        for log in work.glob("*/make-run-*.log"):
            shutil.copy(log, logs / f"{log.parent.name}-{log.name}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(runs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "runs": [asdict(r) for r in runs],
        "cores": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }, indent=2))  # fmt: skip
    print(f"\nresults: {args.out}; make run's output: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

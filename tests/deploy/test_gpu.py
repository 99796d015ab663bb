"""The GPU install path: requirements/gpu.txt and `GPU=1 make install` (not run here: no GPU,
and the CUDA wheels are GBs; what it would run is checked with `make -n`)."""

from __future__ import annotations

import re
import subprocess

from tests.deploy.conftest import ROOT


def pins(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text()
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, flags=re.MULTILINE))


def dry_run(*args: str) -> str:
    done = subprocess.run(
        # -B: print every recipe, also where a developer's stamps are up to date.
        ["make", "-n", "-B", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_faiss_gpu_is_the_release_of_faiss_cpu() -> None:
    assert pins("gpu.txt")["faiss-gpu"] == pins("runtime.txt")["faiss-cpu"]


def test_torch_is_the_version_the_main_environment_pins() -> None:
    assert pins("gpu.txt")["torch"] == pins("runtime.txt")["torch"]


def test_gpu_1_make_install_swaps_in_the_gpu_builds() -> None:
    commands = dry_run("GPU=1", "install")

    assert "pip uninstall -y -q faiss-cpu faiss-gpu" in commands
    assert "pip install -q -r requirements/gpu.txt" in commands
    # The installer builds (and caches) llama.cpp with the GPU flags.
    assert "bot.install" in commands and '--cmake-args "-DGGML_CUDA=on"' in commands
    # Checked at the end, so a CPU build cannot pass for a GPU one.
    assert "torch.version.cuda" in commands and "StandardGpuResources" in commands


def test_make_install_alone_leaves_the_cpu_builds() -> None:
    commands = dry_run("install")
    assert "requirements/gpu.txt" not in commands
    assert "-DGGML_CUDA" not in commands and "-DGGML_AVX2=ON" in commands

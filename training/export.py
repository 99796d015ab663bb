"""Turning a peft LoRA adapter (and, if needed, a Hugging Face base) into GGUF for llama.cpp.

The converters are llama.cpp's own ``convert_lora_to_gguf.py`` and ``convert_hf_to_gguf.py``,
which ship in the llama-cpp-python source distribution under ``vendor/llama.cpp/``. The
first export downloads that sdist with pip (the version the project pins) into
``var/cache/llama-cpp-python`` and unpacks only the converters; later ones reuse them.

Example:
    >>> export_lora(Path("models/adapters/gemma-3-270m-erp"),
    ...             Path("var/models/gemma-3-270m-q4_k_m-hf"))
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from models.errors import ConversionFailed, ModelNotFound
from models.generator import LORA_GGUF
from models.settings import ROOT

log = logging.getLogger(__name__)

LLAMA_CPP_VERSION = "0.3.36"  # keep in step with requirements/llama.txt
CACHE_DIR = ROOT / "var" / "cache" / "llama-cpp-python"
_VENDOR = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"
_WANTED = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "conversion/", "gguf-py/")
OUT_TYPES = ("f32", "f16", "bf16", "q8_0")


def converters(cache_dir: Path = CACHE_DIR) -> Path:
    """The folder holding llama.cpp's converters, fetched from the sdist on first use.

    Raises:
        ConversionFailed: If pip cannot download the sdist or it lacks the converters.
    """
    root = cache_dir / _VENDOR
    if (root / "convert_lora_to_gguf.py").is_file() and (root / "conversion").is_dir():
        return root
    sdist = cache_dir / f"llama_cpp_python-{LLAMA_CPP_VERSION}.tar.gz"
    if not sdist.is_file():
        log.info("Downloading the llama-cpp-python %s sdist for its converters", LLAMA_CPP_VERSION)
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", "-d", str(cache_dir),
            f"llama-cpp-python=={LLAMA_CPP_VERSION}",
        ]  # fmt: skip
        _run(command, what="downloading the llama-cpp-python sdist")
    try:
        with tarfile.open(sdist, "r:gz") as archive:
            members = [
                member
                for member in archive.getmembers()
                if member.name.startswith(_VENDOR)
                and member.name[len(_VENDOR) :].startswith(_WANTED)
            ]
            archive.extractall(cache_dir, members=members, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise ConversionFailed(f"cannot unpack the converters from {sdist}: {error}") from error
    if not (root / "convert_lora_to_gguf.py").is_file():
        raise ConversionFailed(f"{sdist} holds no vendor/llama.cpp/convert_lora_to_gguf.py")
    return root


def export_lora(
    adapter_dir: Path,
    base_dir: Path,
    *,
    out_path: Path | None = None,
    out_type: str = "f16",
    cache_dir: Path = CACHE_DIR,
) -> Path:
    """Convert a peft LoRA adapter to a GGUF LoRA that llama.cpp loads with ``lora_path``.

    Args:
        adapter_dir: The peft adapter (adapter_config.json, adapter_model.safetensors).
        base_dir: The Hugging Face folder of its base model (only config.json is read).
        out_path: Where to write; by default ``adapter_dir / "adapter_model.gguf"``.
        out_type: f32, f16, bf16 or q8_0.
        cache_dir: Where the llama.cpp converters are kept.

    Returns:
        The GGUF file.

    Raises:
        ModelNotFound: If the adapter or the base config is missing.
        ConversionFailed: If the converter fails.
    """
    if out_type not in OUT_TYPES:
        raise ValueError(f"out_type must be one of {OUT_TYPES}, got {out_type!r}")
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ModelNotFound(f"no peft adapter (adapter_config.json) in {adapter_dir}")
    if not (base_dir / "config.json").is_file():
        raise ModelNotFound(f"no Hugging Face config.json in {base_dir}")
    out_path = out_path or adapter_dir / LORA_GGUF
    script = converters(cache_dir) / "convert_lora_to_gguf.py"
    partial = out_path.with_name(out_path.name + ".partial")
    command = [
        sys.executable, str(script), str(adapter_dir), "--base", str(base_dir),
        "--outfile", str(partial), "--outtype", out_type,
    ]  # fmt: skip
    _run(command, what=f"converting {adapter_dir} to GGUF")
    partial.replace(out_path)
    return out_path


def export_base(base_dir: Path, out_path: Path, *, cache_dir: Path = CACHE_DIR) -> Path:
    """Convert a Hugging Face causal-LM folder to an f16 GGUF for llama.cpp (for bases
    that are not GGUF already).

    Raises:
        ModelNotFound: If the folder has no config.json.
        ConversionFailed: If the converter fails.
    """
    if not (base_dir / "config.json").is_file():
        raise ModelNotFound(f"no Hugging Face config.json in {base_dir}")
    script = converters(cache_dir) / "convert_hf_to_gguf.py"
    partial = out_path.with_name(out_path.name + ".partial")
    command = [
        sys.executable, str(script), str(base_dir), "--outfile", str(partial),
        "--outtype", "f16",
    ]  # fmt: skip
    _run(command, what=f"converting {base_dir} to GGUF")
    partial.replace(out_path)
    return out_path


def _run(command: list[str], *, what: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ConversionFailed(f"{what} failed: {error}") from error
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise ConversionFailed(f"{what} failed (exit {done.returncode}):\n{tail}")

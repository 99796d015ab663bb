"""Where the transformers backend runs (CUDA or CPU) and the peft warning it silences: shared by
the generator (models/generator.py) and fine-tuning (training/train.py)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def select_device() -> torch.device:
    """CUDA when torch sees a GPU, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """Silence a transformers deprecation that peft 0.21 triggers on every model it wraps."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
        )
        yield

"""Shared generator fixtures: a tiny random Gemma-3 and a LoRA adapter trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.models.tiny import build_tiny_model, examples


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Gemma-3 with random weights and its tokenizer (tests/models/tiny.py)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-gemma"))


@pytest.fixture(scope="module")
def tiny_adapter(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rank-4 LoRA adapter trained for 3 steps on ``tiny``: the folder peft saved."""
    from training.train import TrainConfig, train

    folder = tmp_path_factory.mktemp("tiny-adapter")
    cfg = TrainConfig(
        out_dir=folder / "adapter",
        checkpoint_dir=folder / "checkpoints",
        rank=4,
        alpha=8,
        steps=3,
        batch_size=2,
        grad_accum=1,
        max_length=256,
        warmup_steps=0,
        learning_rate=0.05,
    )
    return train(cfg, base_dir=tiny, examples=examples(4), progress=False).adapter_dir

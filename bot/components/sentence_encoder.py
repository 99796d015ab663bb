"""A dense featurizer that embeds each message with an ONNX export of a sentence encoder.

The export (`model.onnx` + `tokenizer.json`, made in the main environment by
`python -m bot export-encoder`, see bot/encoder.py) maps token ids to one L2-normalised
sentence vector, mean-pooled like sentence-transformers does. It runs here with onnxruntime
and tokenizers, so Rasa never imports torch. Use it in config.yml:

    pipeline:
      - name: WhitespaceTokenizer
      - name: bot.components.sentence_encoder.SentenceEncoderFeaturizer
        model_dir: var/encoders/all-mpnet-base-v2
        alias: sentence_encoder
      - name: bot.components.linear_intent.LinearIntentClassifier
        featurizers: [sentence_encoder]

It adds only a sentence feature (no per-token sequence feature): name it in the `featurizers`
of the components that should read it, and leave it out of DIET's.

The export's encoder.json may ask for a `prefix` before every text (multilingual-e5-small wants
"query: ") and a `pad_id` for the padding (XLM-R's is 1); without them texts go in as they are,
padded with 0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "encoder.json"


def with_prefix(texts: list[str], prefix: str) -> list[str]:
    """The texts as the encoder reads them: each after the export's prefix (if any)."""
    return [prefix + text for text in texts] if prefix else list(texts)


class OnnxSentenceEncoder:
    """Texts in, normalised sentence vectors out, batched by similar length."""

    def __init__(self, model_dir: Path, *, threads: int = 0, max_length: int = 256) -> None:
        import onnxruntime
        from tokenizers import Tokenizer as HfTokenizer

        for name in (MODEL_FILE, TOKENIZER_FILE):
            if not (model_dir / name).is_file():
                raise FileNotFoundError(
                    f"{model_dir / name} is missing: run `python -m bot export-encoder` first"
                )
        meta = read_meta(model_dir)
        self.prefix = str(meta.get("prefix") or "")
        self.pad_id = int(meta.get("pad_id") or 0)
        self.tokenizer = HfTokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(model_dir / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """One row per text; texts of similar length share a batch to keep padding small."""
        encodings = self.tokenizer.encode_batch(with_prefix(texts, self.prefix))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors: list[np.ndarray] = [np.empty(0)] * len(texts)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            out = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            for row, i in enumerate(batch):
                vectors[i] = out[row]
        return np.stack(vectors).astype(np.float32)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a sentence embedding of the message text as a dense sentence feature."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["onnxruntime", "tokenizers"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # A folder with model.onnx and tokenizer.json; relative to the working directory.
            "model_dir": "var/encoders/all-mpnet-base-v2",
            # onnxruntime threads; 0 lets it choose (all cores).
            "threads": 0,
            "batch_size": 64,
        }

    def __init__(self, config: dict[str, Any], execution_context: ExecutionContext) -> None:
        super().__init__(execution_context.node_name, config)
        self._encoder: OnnxSentenceEncoder | None = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEncoderFeaturizer:
        return cls(config, execution_context)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if not config.get("model_dir"):
            raise InvalidConfigException("SentenceEncoderFeaturizer needs a `model_dir`")

    @property
    def encoder(self) -> OnnxSentenceEncoder:
        """The ONNX session, opened on first use (nothing heavy at graph construction)."""
        if self._encoder is None:
            model_dir = Path(os.path.expanduser(self._config["model_dir"]))
            self._encoder = OnnxSentenceEncoder(model_dir, threads=int(self._config["threads"]))
        return self._encoder

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The export's own record (with its digest): Rasa retrains and drops cached
        features when the encoder files change under the same `model_dir`."""
        meta = Path(config.get("model_dir") or "") / META_FILE
        return meta.read_text() if meta.is_file() else None

    def process(self, messages: list[Message]) -> list[Message]:
        """Embed every message that has text, in batches."""
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return messages
        vectors = self.encoder.encode(
            [m.get(TEXT) for m in todo], batch_size=int(self._config["batch_size"])
        )
        for message, vector in zip(todo, vectors, strict=True):
            self.add_features_to_message(None, vector[np.newaxis, :], TEXT, message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data


def read_meta(model_dir: Path) -> dict[str, Any]:
    """What bot/encoder.py recorded about an export (source model, fine-tuning, digest)."""
    meta = model_dir / META_FILE
    return json.loads(meta.read_text()) if meta.is_file() else {}

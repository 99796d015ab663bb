"""An intent classifier: multinomial logistic regression on chosen sentence features.

Trained with scikit-learn in seconds; predicts with one matrix product. Meant to sit on the
sentence embeddings of bot.components.sentence_encoder, optionally with character n-gram
counts beside them, so its probabilities are calibrated enough for the FallbackClassifier's
threshold to mean something:

    - name: CountVectorsFeaturizer
      alias: char_ngrams
      analyzer: char_wb
      min_ngram: 1
      max_ngram: 4
    - name: bot.components.linear_intent.LinearIntentClassifier
      featurizers: [sentence_encoder, char_ngrams]   # whose sentence features (empty: all)
      sparse_weight: 0.5
      C: 10.0
      chinese:                  # optional: messages with Chinese characters get their own
        sparse_weight: 2.0      # regression (same examples, both languages), with these
        C: 30.0                 # settings; the others' settings are the defaults above

The encoder reads English; a Chinese message's meaning is mostly in its character n-grams,
which want more weight and less regularisation than English ones. A second regression for
Chinese messages gives them that without changing a thing for English messages (a data set
without Chinese, such as CLINC150, gets exactly the model it got before).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.npz"
CLASSES_FILE = "classes.json"
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# What a `chinese:` block may set; the rest comes from the top-level settings.
CHINESE_KEYS = ("featurizers", "sparse_weight", "C")


def is_chinese(message: Message) -> bool:
    """Whether the message's text holds a Chinese character."""
    return _HAN.search(str(message.get(TEXT) or "")) is not None


@dataclass
class _Regression:
    """One logistic regression: its feature settings and, once trained, its parameters."""

    featurizers: list[str]
    sparse_weight: float
    C: float
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    idf: np.ndarray | None = None

    def raw_features(
        self, messages: list[Message]
    ) -> tuple[scipy.sparse.csr_matrix | None, np.ndarray | None]:
        """The messages' sparse and dense sentence features, one row per message."""
        names = self.featurizers or None
        sparse_rows, dense_rows = [], []
        for message in messages:
            sparse = message.get_sparse_features(TEXT, names)[1]
            dense = message.get_dense_features(TEXT, names)[1]
            if sparse is None and dense is None:
                raise ValueError(
                    f"LinearIntentClassifier found no sentence features from "
                    f"{names or 'any featurizer'} for {message.get(TEXT)!r}"
                )
            if sparse is not None:
                sparse_rows.append(scipy.sparse.csr_matrix(sparse.features))
            if dense is not None:
                dense_rows.append(np.asarray(dense.features, dtype=np.float32).reshape(1, -1))
        sparse_matrix = scipy.sparse.vstack(sparse_rows).tocsr() if sparse_rows else None
        dense_matrix = np.vstack(dense_rows) if dense_rows else None
        for kind, rows in (("sparse", sparse_rows), ("dense", dense_rows)):
            if rows and len(rows) != len(messages):
                raise ValueError(f"LinearIntentClassifier: some messages lack {kind} features")
        return sparse_matrix, dense_matrix

    def features(self, messages: list[Message]) -> scipy.sparse.csr_matrix:
        """Dense features as they are; sparse counts (character n-grams, say) as sublinear
        tf-idf rows of unit length, times `sparse_weight` (0 drops them)."""
        sparse, dense = self.raw_features(messages)
        parts: list[scipy.sparse.csr_matrix] = []
        if dense is not None:
            parts.append(scipy.sparse.csr_matrix(dense))
        if sparse is not None and self.sparse_weight > 0:
            if self.idf is None:
                raise ValueError("LinearIntentClassifier: sparse features but no idf (untrained)")
            tf = sparse.astype(np.float32)
            tf.data = 1.0 + np.log(np.maximum(tf.data, 1e-12))
            tfidf = tf.multiply(self.idf[: tf.shape[1]]).tocsr()
            norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1))).ravel()
            norms[norms == 0] = 1.0
            parts.append(scipy.sparse.diags(self.sparse_weight / norms) @ tfidf)
        if not parts:
            raise ValueError("LinearIntentClassifier: no features left (sparse_weight is 0)")
        return scipy.sparse.hstack(parts).tocsr()

    def fit(self, messages: list[Message], intents: list[str], config: dict[str, Any]) -> list[str]:
        """Train on the examples; returns the intents in the order of the weights' rows."""
        from sklearn.linear_model import LogisticRegression

        self._fit_idf(messages)
        x = self.features(messages)
        if len(set(intents)) == 1:
            # One intent: nothing to separate; it always wins.
            self.weights = np.zeros((1, x.shape[1]), dtype=np.float32)
            self.bias = np.zeros(1, dtype=np.float32)
            return [intents[0]]
        model = LogisticRegression(
            C=self.C, max_iter=int(config["max_iter"]), random_state=int(config["random_state"])
        )
        model.fit(x, intents)
        classes = [str(c) for c in model.classes_]
        coef, intercept = model.coef_, model.intercept_
        if len(classes) == 2:
            # scikit-learn keeps one row for two classes; spell out both for the softmax.
            coef, intercept = (
                np.vstack([-coef / 2, coef / 2]),
                np.hstack([-intercept / 2, intercept / 2]),
            )
        self.weights = coef.astype(np.float32)
        self.bias = intercept.astype(np.float32)
        return classes

    def _fit_idf(self, messages: list[Message]) -> None:
        """Smoothed inverse document frequency of each sparse column, as scikit-learn does."""
        sparse, _ = self.raw_features(messages)
        if sparse is None or self.sparse_weight <= 0:
            self.idf = None
            return
        documents = np.bincount(sparse.indices, minlength=sparse.shape[1])
        n = sparse.shape[0]
        self.idf = (np.log((1 + n) / (1 + documents)) + 1).astype(np.float32)

    def probabilities(self, messages: list[Message]) -> np.ndarray:
        """Softmax over the intents, one row per message."""
        assert self.weights is not None and self.bias is not None
        logits = np.asarray(self.features(messages) @ self.weights.T + self.bias)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        assert self.weights is not None and self.bias is not None
        idf = self.idf if self.idf is not None else np.zeros(0, dtype=np.float32)
        return {f"{prefix}weights": self.weights, f"{prefix}bias": self.bias, f"{prefix}idf": idf}

    def restore(self, arrays: Any, prefix: str) -> None:
        self.weights = arrays[f"{prefix}weights"]
        self.bias = arrays[f"{prefix}bias"]
        idf = arrays[f"{prefix}idf"]
        self.idf = idf if idf.size else None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression over the sentence features of the named featurizers (and, with a
    `chinese` block, another for messages with Chinese characters)."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [Featurizer]

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn"]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # Featurizer names or aliases whose sentence features are used; empty: all.
            "featurizers": [],
            # Inverse regularisation strength of the logistic regression.
            "C": 10.0,
            "max_iter": 1000,
            # Weight of the sparse sentence features (as unit-length sublinear tf-idf) next
            # to the dense ones (unit-length embeddings); 0 ignores sparse features.
            "sparse_weight": 0.0,
            # Settings (featurizers, sparse_weight, C) of a second regression for messages
            # with Chinese characters; None: one regression for all.
            "chinese": None,
            "ranking_length": 10,
            "random_state": 42,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classes: list[str] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.classes = classes or []
        self.default = _Regression(
            list(self.config["featurizers"]),
            float(self.config["sparse_weight"]),
            float(self.config["C"]),
        )
        chinese = self.config["chinese"]
        self.chinese: _Regression | None = None
        if chinese is not None:
            unknown = set(chinese) - set(CHINESE_KEYS)
            if unknown:
                raise ValueError(
                    f"LinearIntentClassifier: chinese may set {', '.join(CHINESE_KEYS)}, "
                    f"got {', '.join(sorted(unknown))}"
                )
            self.chinese = _Regression(
                list(chinese.get("featurizers", self.default.featurizers)),
                float(chinese.get("sparse_weight", self.default.sparse_weight)),
                float(chinese.get("C", self.default.C)),
            )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    @property
    def trained(self) -> bool:
        return self.default.weights is not None

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the logistic regression(s) on the intent examples."""
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("LinearIntentClassifier: no intent examples, nothing to train.")
            return self._resource
        intents = [str(e.get(INTENT)) for e in examples]
        self.classes = self.default.fit(examples, intents, self.config)
        # The Chinese regression learns from both languages' examples: the intents are the
        # same, and mixed messages exist.
        if self.chinese is not None and (
            self.chinese.fit(examples, intents, self.config) != self.classes
        ):
            raise ValueError("LinearIntentClassifier: the two regressions' intents differ")
        self.persist()
        return self._resource

    def probabilities(self, messages: list[Message]) -> np.ndarray:
        """Softmax over the intents, one row per message (each by its language's model)."""
        chosen = [
            self.chinese if self.chinese is not None and is_chinese(m) else self.default
            for m in messages
        ]
        rows = np.zeros((len(messages), len(self.classes)), dtype=np.float64)
        for regression in {id(r): r for r in chosen}.values():
            picked = [i for i, r in enumerate(chosen) if r is regression]
            rows[picked] = regression.probabilities([messages[i] for i in picked])
        return rows

    def process(self, messages: list[Message]) -> list[Message]:
        """Set `intent` and `intent_ranking` on each message."""
        if not self.trained or not messages:
            return messages
        probabilities = self.probabilities(messages)
        length = int(self.config["ranking_length"])
        for message, row in zip(messages, probabilities, strict=True):
            order = np.argsort(-row)
            ranking = [{"name": self.classes[i], "confidence": float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(
                "intent_ranking", ranking[:length] if length > 0 else ranking, add_to_output=True
            )
        return messages

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as folder:
            arrays = self.default.arrays("")
            if self.chinese is not None:
                arrays.update(self.chinese.arrays("chinese_"))
            np.savez(folder / WEIGHTS_FILE, **arrays)  # type: ignore[arg-type]
            (folder / CLASSES_FILE).write_text(json.dumps(self.classes))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        classifier = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as folder:
                arrays = np.load(folder / WEIGHTS_FILE)
                classifier.classes = json.loads((folder / CLASSES_FILE).read_text())
                classifier.default.restore(arrays, "")
                if classifier.chinese is not None:
                    classifier.chinese.restore(arrays, "chinese_")
        except (ValueError, FileNotFoundError, KeyError):
            logger.debug(f"LinearIntentClassifier {resource.name}: not trained, predicts nothing.")
            return cls(config, model_storage, resource)
        return classifier

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
"""

from __future__ import annotations

import json
import logging
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


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression over the sentence features of the named featurizers."""

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
            "ranking_length": 10,
            "random_state": 42,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
        classes: list[str] | None = None,
        idf: np.ndarray | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.weights = weights
        self.bias = bias
        self.classes = classes or []
        self.idf = idf

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    def _raw_features(
        self, messages: list[Message]
    ) -> tuple[scipy.sparse.csr_matrix | None, np.ndarray | None]:
        """The messages' sparse and dense sentence features, one row per message."""
        names = self.config["featurizers"] or None
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

    def _features(self, messages: list[Message]) -> scipy.sparse.csr_matrix:
        """Dense features as they are; sparse counts (character n-grams, say) as sublinear
        tf-idf rows of unit length, times `sparse_weight` (0 drops them)."""
        sparse, dense = self._raw_features(messages)
        parts: list[scipy.sparse.csr_matrix] = []
        if dense is not None:
            parts.append(scipy.sparse.csr_matrix(dense))
        weight = float(self.config["sparse_weight"])
        if sparse is not None and weight > 0:
            if self.idf is None:
                raise ValueError("LinearIntentClassifier: sparse features but no idf (untrained)")
            tf = sparse.astype(np.float32)
            tf.data = 1.0 + np.log(np.maximum(tf.data, 1e-12))
            tfidf = tf.multiply(self.idf[: tf.shape[1]]).tocsr()
            norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1))).ravel()
            norms[norms == 0] = 1.0
            parts.append(scipy.sparse.diags(weight / norms) @ tfidf)
        if not parts:
            raise ValueError("LinearIntentClassifier: no features left (sparse_weight is 0)")
        return scipy.sparse.hstack(parts).tocsr()

    def _fit_idf(self, messages: list[Message]) -> None:
        """Smoothed inverse document frequency of each sparse column, as scikit-learn does."""
        sparse, _ = self._raw_features(messages)
        if sparse is None or float(self.config["sparse_weight"]) <= 0:
            self.idf = None
            return
        documents = np.bincount(sparse.indices, minlength=sparse.shape[1])
        n = sparse.shape[0]
        self.idf = (np.log((1 + n) / (1 + documents)) + 1).astype(np.float32)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the logistic regression on the intent examples."""
        from sklearn.linear_model import LogisticRegression

        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("LinearIntentClassifier: no intent examples, nothing to train.")
            return self._resource
        self._fit_idf(examples)
        x = self._features(examples)
        y = [e.get(INTENT) for e in examples]
        model = LogisticRegression(
            C=float(self.config["C"]),
            max_iter=int(self.config["max_iter"]),
            random_state=int(self.config["random_state"]),
        )
        if len(set(y)) == 1:
            # One intent: nothing to separate; it always wins.
            self.classes = [y[0]]
            self.weights = np.zeros((1, x.shape[1]), dtype=np.float32)
            self.bias = np.zeros(1, dtype=np.float32)
        else:
            model.fit(x, y)
            self.classes = [str(c) for c in model.classes_]
            coef, intercept = model.coef_, model.intercept_
            if len(self.classes) == 2:
                # scikit-learn keeps one row for two classes; spell out both for the softmax.
                coef, intercept = (
                    np.vstack([-coef / 2, coef / 2]),
                    np.hstack([-intercept / 2, intercept / 2]),
                )
            self.weights = coef.astype(np.float32)
            self.bias = intercept.astype(np.float32)
        self.persist()
        return self._resource

    def probabilities(self, messages: list[Message]) -> np.ndarray:
        """Softmax over the intents, one row per message."""
        assert self.weights is not None and self.bias is not None
        logits = self._features(messages) @ self.weights.T + self.bias
        logits = np.asarray(logits)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def process(self, messages: list[Message]) -> list[Message]:
        """Set `intent` and `intent_ranking` on each message."""
        if self.weights is None or not messages:
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
        assert self.weights is not None and self.bias is not None
        with self._model_storage.write_to(self._resource) as folder:
            idf = self.idf if self.idf is not None else np.zeros(0, dtype=np.float32)
            np.savez(folder / WEIGHTS_FILE, weights=self.weights, bias=self.bias, idf=idf)
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
        try:
            with model_storage.read_from(resource) as folder:
                arrays = np.load(folder / WEIGHTS_FILE)
                classes = json.loads((folder / CLASSES_FILE).read_text())
                idf = arrays["idf"] if arrays["idf"].size else None
                return cls(
                    config, model_storage, resource, arrays["weights"], arrays["bias"], classes, idf
                )
        except (ValueError, FileNotFoundError):
            logger.debug(f"LinearIntentClassifier {resource.name}: not trained, predicts nothing.")
            return cls(config, model_storage, resource)

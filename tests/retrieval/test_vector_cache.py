"""DiskCachedEmbedder: each text embedded once, across restarts and threads."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from retrieval.vector_cache import DiskCachedEmbedder


class CountingEmbedder:
    """Vectors derived from the text, and every text it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.asked += list(texts)
        return np.array([[len(t), sum(map(ord, t)) % 97, 1.0] for t in texts], dtype=np.float32)


def test_a_restart_reads_the_vectors_and_embeds_only_new_texts(tmp_path: Path) -> None:
    path = tmp_path / "vectors" / "model.npz"
    first = DiskCachedEmbedder(CountingEmbedder(), path)
    rows = first.embed(["Blue Widget", "Steel Widget", "Blue Widget"])
    assert rows.shape == (3, 3) and np.array_equal(rows[0], rows[2])
    assert first.inner.asked == ["Blue Widget", "Steel Widget"]  # type: ignore[attr-defined]

    again = DiskCachedEmbedder(CountingEmbedder(), path)
    assert np.array_equal(again.embed(["Steel Widget", "Blue Widget"]), rows[[1, 0]])
    assert again.embedded == 0
    again.embed(["Blue Widget", "M8 Hex Bolt"])
    assert again.inner.asked == ["M8 Hex Bolt"]  # type: ignore[attr-defined]
    assert DiskCachedEmbedder(CountingEmbedder(), path).embed(["M8 Hex Bolt"]).shape == (1, 3)


def test_threads_asking_at_once_embed_each_text_once(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    encoder = DiskCachedEmbedder(inner, tmp_path / "model.npz")
    texts = [f"product {i}" for i in range(50)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: encoder.embed(texts), range(16)))

    assert sorted(inner.asked) == sorted(texts)
    assert all(np.array_equal(r, results[0]) for r in results)


@pytest.mark.parametrize("content", [b"not a numpy file", b""], ids=["garbage", "empty"])
def test_a_damaged_file_is_ignored_and_replaced(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    encoder = DiskCachedEmbedder(CountingEmbedder(), path)

    assert encoder.embed(["Blue Widget"]).shape == (1, 3)
    assert DiskCachedEmbedder(CountingEmbedder(), path).embed(["Blue Widget"]).shape == (1, 3)


def test_an_unwritable_place_still_answers(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the directory should be")
    encoder = DiskCachedEmbedder(CountingEmbedder(), blocked / "model.npz")

    assert encoder.embed(["Blue Widget"]).shape == (1, 3)
    assert encoder.embed(["Blue Widget"]).shape == (1, 3)
    assert encoder.embedded == 1  # kept in memory at least

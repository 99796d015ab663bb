"""Document stores: chunks and their vectors, searchable by a query vector.

Every store keeps the chunks and their vectors per document, so a document can be replaced
or deleted on its own; the FAISS index is derived from them and rebuilt when they change.
`InMemoryStore` (exact numpy search, for tests), `FaissStore` (CPU) and `GpuFaissStore`
are interchangeable behind `DocumentStore`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.errors import IndexNotBuilt
from retrieval.faiss_index import IndexKind, IndexPlan, build_index, choose_index, to_cpu
from retrieval.types import Chunk

CHUNKS_FILE = "chunks.jsonl"
VECTORS_FILE = "vectors.npy"
MANIFEST_FILE = "manifest.json"
FAISS_FILE = "index.faiss"


class DocumentStore(Protocol):
    """What the indexer writes to and the retriever searches."""

    def fingerprints(self) -> dict[str, str]:
        """Document path → fingerprint of the content its chunks were made from."""
        ...

    def write(
        self, document: str, fingerprint: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Replace `document`'s chunks and vectors (one vector row per chunk)."""
        ...

    def delete(self, document: str) -> None:
        """Remove `document` and all its chunks."""
        ...

    def chunks(self) -> list[Chunk]:
        """Every chunk, in the order of the rows `search` returns."""
        ...

    def search(self, query: np.ndarray, top_k: int) -> list[tuple[int, float]]:
        """The `top_k` (row, cosine similarity) pairs nearest to a normalised query vector."""
        ...

    def similarities(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Exact cosine similarities of the query to the chunks at `rows`."""
        ...


class InMemoryStore:
    """Exact search over numpy arrays; nothing persisted. The reference the others must match."""

    def __init__(self) -> None:
        self._documents: dict[str, tuple[str, list[Chunk], np.ndarray]] = {}
        self._chunks: list[Chunk] | None = None
        self._matrix: np.ndarray | None = None

    def __len__(self) -> int:
        return sum(len(chunks) for _, chunks, _ in self._documents.values())

    def fingerprints(self) -> dict[str, str]:
        return {path: fingerprint for path, (fingerprint, _, _) in self._documents.items()}

    def write(
        self, document: str, fingerprint: str, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors for {document}")
        self._documents[document] = (
            fingerprint,
            list(chunks),
            np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1),
        )
        self._changed()

    def delete(self, document: str) -> None:
        if self._documents.pop(document, None) is not None:
            self._changed()

    def chunks(self) -> list[Chunk]:
        if self._chunks is None:
            self._chunks = [c for path in sorted(self._documents) for c in self._documents[path][1]]
        return self._chunks

    def matrix(self) -> np.ndarray:
        """All vectors, one row per chunk, in the order of `chunks()`."""
        if self._matrix is None:
            parts = [self._documents[path][2] for path in sorted(self._documents)]
            self._matrix = np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)
        return self._matrix

    def search(self, query: np.ndarray, top_k: int) -> list[tuple[int, float]]:
        matrix = self.matrix()
        if len(matrix) == 0:
            return []
        scores = matrix @ np.asarray(query, dtype=np.float32).ravel()
        top = np.argsort(-scores)[:top_k]
        return [(int(row), float(scores[row])) for row in top]

    def similarities(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        if not rows:
            return np.zeros(0, dtype=np.float32)
        return self.matrix()[list(rows)] @ np.asarray(query, dtype=np.float32).ravel()

    def _changed(self) -> None:
        self._chunks = None
        self._matrix = None


class FaissStore(InMemoryStore):
    """Chunks and vectors searched through a FAISS index chosen by size (see faiss_index).

    Saved to and loaded from a folder: chunks.jsonl, vectors.npy, manifest.json, index.faiss.
    """

    use_gpu = False

    def __init__(self, *, kind: IndexKind | None = None) -> None:
        super().__init__()
        self.override = kind
        self._index: Any = None
        self._plan: IndexPlan | None = None

    @property
    def plan(self) -> IndexPlan:
        """The index this store builds for its current size."""
        return choose_index(len(self), gpu=self.use_gpu, override=self.override)

    def index(self) -> Any:
        """The FAISS index over `matrix()`, built on first use after a change."""
        if self._index is None:
            self._plan = self.plan
            self._index = build_index(self.matrix(), self._plan.kind, gpu=self._plan.gpu)
        return self._index

    def search(self, query: np.ndarray, top_k: int) -> list[tuple[int, float]]:
        if len(self) == 0:
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(1, -1)
        scores, rows = self.index().search(vector, min(top_k, len(self)))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def _changed(self) -> None:
        super()._changed()
        self._index = None

    def save(self, folder: Path, *, meta: dict[str, Any]) -> None:
        """Write the store to `folder` (atomically per file) with `meta` in the manifest."""
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        index = self.index()
        manifest = {
            **meta,
            "documents": {
                path: {"fingerprint": fp, "chunks": len(chunks)}
                for path, (fp, chunks, _) in sorted(self._documents.items())
            },
            "index_kind": self.plan.kind,
        }
        _write(folder / CHUNKS_FILE, "".join(json.dumps(c.to_json()) + "\n" for c in self.chunks()))
        tmp = folder / (VECTORS_FILE + ".tmp")
        with tmp.open("wb") as out:
            np.save(out, self.matrix())
        tmp.replace(folder / VECTORS_FILE)
        faiss.write_index(to_cpu(index), str(folder / (FAISS_FILE + ".tmp")))
        (folder / (FAISS_FILE + ".tmp")).replace(folder / FAISS_FILE)
        _write(folder / MANIFEST_FILE, json.dumps(manifest, indent=1) + "\n")

    @classmethod
    def load(
        cls, folder: Path, *, kind: IndexKind | None = None
    ) -> tuple[FaissStore, dict[str, Any]]:
        """A store read from `folder`, and the manifest's metadata."""
        manifest_file = folder / MANIFEST_FILE
        if not manifest_file.exists():
            raise IndexNotBuilt(str(folder))
        manifest = json.loads(manifest_file.read_text())
        chunks = [Chunk.from_json(json.loads(line)) for line in _lines(folder / CHUNKS_FILE)]
        matrix = np.load(folder / VECTORS_FILE)
        store = cls(kind=kind)
        start = 0
        by_document: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_document.setdefault(chunk.citation.document, []).append(chunk)
        for path in sorted(manifest["documents"]):
            doc_chunks = by_document.get(path, [])
            end = start + len(doc_chunks)
            store._documents[path] = (
                manifest["documents"][path]["fingerprint"],
                doc_chunks,
                matrix[start:end],
            )
            start = end
        store._changed()
        store._load_index(folder / FAISS_FILE, manifest.get("index_kind"))
        return store, manifest

    def _load_index(self, file: Path, saved_kind: str | None) -> None:
        import faiss

        plan = self.plan
        if not file.exists() or saved_kind != plan.kind:
            return  # built on first search
        index = faiss.read_index(str(file))
        if index.ntotal != len(self):
            return
        if plan.gpu:
            index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
        self._plan, self._index = plan, index


class GpuFaissStore(FaissStore):
    """A FaissStore whose index lives on the GPU (needs faiss-gpu and a device)."""

    use_gpu = True


def store_class(*, gpu: bool | None = None) -> type[FaissStore]:
    """GpuFaissStore when faiss sees a GPU (or `gpu=True`), FaissStore otherwise."""
    from retrieval.faiss_index import gpu_available

    return GpuFaissStore if (gpu_available() if gpu is None else gpu) else FaissStore


def make_store(*, kind: IndexKind | None = None, gpu: bool | None = None) -> FaissStore:
    """An empty store of `store_class(gpu=gpu)`."""
    return store_class(gpu=gpu)(kind=kind)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]

"""Build the document index incrementally: only new and changed documents are re-embedded."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.chunking import chunk_document
from retrieval.embedding import Embedder
from retrieval.errors import IndexNotBuilt, UnreadableDocument
from retrieval.facts import company_facts
from retrieval.faiss_index import IndexKind
from retrieval.loaders import document_files, load_document
from retrieval.store import MANIFEST_FILE, FaissStore, make_store, store_class
from retrieval.types import Chunk

logger = logging.getLogger(__name__)

# Bump when loading or chunking changes, so every document is chunked and embedded again.
CHUNKER_VERSION = "1"
EMBED_BATCH = 32


@dataclass
class BuildReport:
    """What a build did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    embedded_chunks: int = 0
    total_chunks: int = 0
    index_kind: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        if not self.changed and not self.failed:
            return f"Document index is up to date ({self.unchanged} documents)."
        text = (
            f"Document index: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {self.unchanged} unchanged; "
            f"{self.embedded_chunks} chunks embedded, {self.total_chunks} in the "
            f"{self.index_kind} index."
        )
        for path, reason in self.failed.items():
            text += f"\n  skipped {path}: {reason}"
        return text


def fingerprint(path: Path, *, docs_url: str) -> str:
    """Changes when the file, the chunker, the link prefix or the company facts change."""
    digest = hashlib.sha256(path.read_bytes())
    digest.update(f"\0{CHUNKER_VERSION}\0{docs_url}\0{company_facts()[1]}".encode())
    return digest.hexdigest()


def _manifest(index_dir: Path) -> dict[str, object]:
    try:
        loaded = json.loads((index_dir / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def build_index(
    docs_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    docs_url: str = "/docs",
    kind: IndexKind | None = None,
    progress: bool = True,
    force: bool = False,
    status: Callable[[str], None] | None = None,
) -> BuildReport:
    """Bring the index in `index_dir` up to date with the documents in `docs_dir`.

    Unchanged documents keep their stored vectors, deleted ones are removed, new and changed
    ones are loaded, chunked and embedded. When nothing changed only the files are hashed:
    neither the model nor the index is loaded. A document that cannot be read is skipped
    and named in the report. `force` re-embeds everything. `status` is told how far it is
    ("embedding chunks 128/603"), for `make run`'s progress line.
    """
    if not docs_dir.is_dir():
        raise UnreadableDocument(str(docs_dir), "documents folder not found")
    report = BuildReport()
    files = {p.relative_to(docs_dir).as_posix(): p for p in document_files(docs_dir)}
    current = {path: fingerprint(file, docs_url=docs_url) for path, file in files.items()}
    manifest = _manifest(index_dir)
    same_model = manifest.get("model") == embedder.name
    stored_documents = manifest.get("documents")
    if not force and same_model and isinstance(stored_documents, dict):
        stored = {path: entry.get("fingerprint") for path, entry in stored_documents.items()}
        if stored == current and manifest.get("index_kind_override") == kind:
            report.unchanged = len(current)
            report.total_chunks = sum(e.get("chunks", 0) for e in stored_documents.values())
            report.index_kind = str(manifest.get("index_kind", ""))
            return report

    store: FaissStore = make_store(kind=kind)
    if not force and same_model:
        try:
            store, _ = store_class().load(index_dir, kind=kind)
        except (IndexNotBuilt, OSError, ValueError, KeyError) as error:
            logger.warning("rebuilding the whole index: %s", error)
    old = store.fingerprints()
    for path in sorted(set(old) - set(current)):
        store.delete(path)
        report.removed.append(path)

    todo = [path for path in sorted(current) if old.get(path) != current[path]]
    report.unchanged = len(current) - len(todo)
    pending: list[tuple[str, list[Chunk]]] = []
    if status is not None and todo:
        status(f"reading {len(todo)} documents")
    for path in _bar(todo, progress, "Reading documents"):
        try:
            chunks = chunk_document(load_document(files[path], docs_dir), docs_url=docs_url)
        except UnreadableDocument as error:
            report.failed[path] = error.reason
            if path in old:
                store.delete(path)
                report.removed.append(path)
            continue
        pending.append((path, chunks))
        (report.updated if path in old else report.added).append(path)

    texts = [chunk.embedding_text() for _, chunks in pending for chunk in chunks]
    vectors = _embed(embedder, texts, progress, status)
    start = 0
    for path, chunks in pending:
        store.write(path, current[path], chunks, vectors[start : start + len(chunks)])
        start += len(chunks)
    report.embedded_chunks = len(texts)
    report.total_chunks = len(store)
    report.index_kind = store.plan.kind
    store.save(index_dir, meta={"model": embedder.name, "index_kind_override": kind})
    return report


def _embed(
    embedder: Embedder,
    texts: list[str],
    progress: bool,
    status: Callable[[str], None] | None = None,
) -> np.ndarray:
    batches = [texts[i : i + EMBED_BATCH] for i in range(0, len(texts), EMBED_BATCH)]
    if not batches:
        return np.zeros((0, 0), dtype=np.float32)
    parts: list[np.ndarray] = []
    with _progress(len(texts), progress, "Embedding chunks") as bar:
        for done, batch in zip(range(0, len(texts), EMBED_BATCH), batches, strict=True):
            if status is not None:
                status(f"embedding chunks {done}/{len(texts)}")
            parts.append(embedder.embed(batch, batch_size=EMBED_BATCH))
            bar.update(len(batch))
    return np.vstack(parts)


def _bar(items: list[str], enabled: bool, description: str) -> Iterable[str]:
    from tqdm import tqdm

    return tqdm(items, desc=description, unit="doc", disable=not enabled or not items)


def _progress(total: int, enabled: bool, description: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="chunk", disable=not enabled)


def update_index(
    *, progress: bool = True, force: bool = False, status: Callable[[str], None] | None = None
) -> BuildReport:
    """Bring the configured index (RetrievalSettings) up to date with the documents."""
    from retrieval.embedding import SentenceTransformerEmbedder
    from retrieval.settings import RetrievalSettings

    settings = RetrievalSettings.from_env()
    return build_index(
        settings.docs_dir,
        settings.index_dir,
        SentenceTransformerEmbedder(settings.model),
        docs_url=settings.docs_url,
        kind=settings.index_kind,
        progress=progress,
        force=force,
        status=status,
    )

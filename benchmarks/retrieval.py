"""Retrieval benchmarks: StackFAQ and the project's own questions, calibration, and scale.

`python -m benchmarks.retrieval quality` (make bench-retrieval) and `python -m
benchmarks.retrieval scale` (make bench-index-scale). Results go to var/results/ as JSON and are
printed as tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from retrieval.chunking import chunk_document
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.faiss_index import IndexKind, build_index, choose_index, parse_kind
from retrieval.loaders import Document, Section, document_files, load_document
from retrieval.service import Retriever
from retrieval.settings import DEFAULT_HYBRID_ALPHA_ZH, ROOT, SearchMode
from retrieval.store import InMemoryStore
from retrieval.types import Chunk, Passage

BENCHMARKS = Path(os.environ.get("BENCHMARKS_DIR", ROOT.parent / "shared" / "benchmarks"))
STACKFAQ = BENCHMARKS / "stackfaq" / "derived_beir_format"
CLINC = BENCHMARKS / "clinc150" / "data_full.json"
QUESTIONS = ROOT / "data" / "eval" / "document_questions.yml"
QUESTIONS_ZH = ROOT / "data" / "eval" / "document_questions_zh.yml"
# Chinese questions nobody's documents answer: the held-out NLU test set's out_of_scope ones.
NLU_TEST_ZH = ROOT / "data" / "eval" / "nlu_zh_test.yml"
NLU_DIR = ROOT / "data" / "nlu"
RESULTS = ROOT / "var" / "results"
MODES: tuple[SearchMode, ...] = ("dense", "bm25", "hybrid")
ALPHAS = (0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Scores:
    """Ranking quality over a question set."""

    ndcg10: float
    recall5: float
    mrr: float
    questions: int

    def row(self) -> str:
        return f"{self.ndcg10:.3f} | {self.recall5:.3f} | {self.mrr:.3f}"


def score_ranks(ranks: Sequence[int | None]) -> Scores:
    """Metrics from the 1-based rank of the one relevant item per question (None: not found)."""
    n = len(ranks)
    if n == 0:
        return Scores(0.0, 0.0, 0.0, 0)
    ndcg = sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= 10) / n
    recall = sum(1 for r in ranks if r is not None and r <= 5) / n
    mrr = sum(1 / r for r in ranks if r is not None) / n
    return Scores(ndcg, recall, mrr, n)


def first_rank(passages: Sequence[Passage], wanted: Callable[[Passage], bool]) -> int | None:
    """1-based position of the first passage `wanted` accepts (None when none is)."""
    return next((i for i, p in enumerate(passages, 1) if wanted(p)), None)


def best_per_document(passages: Sequence[Passage]) -> list[Passage]:
    """Each document once, at the rank of its best passage."""
    seen: set[str] = set()
    kept = []
    for passage in passages:
        if passage.citation.document not in seen:
            seen.add(passage.citation.document)
            kept.append(passage)
    return kept


def _store(chunks: list[Chunk], vectors: np.ndarray) -> InMemoryStore:
    store = InMemoryStore()
    by_document: dict[str, list[int]] = {}
    for row, chunk in enumerate(chunks):
        by_document.setdefault(chunk.citation.document, []).append(row)
    for document, rows in by_document.items():
        store.write(document, "", [chunks[r] for r in rows], vectors[rows])
    return store


# --- StackFAQ -----------------------------------------------------------------------------


def stackfaq_documents() -> list[Document]:
    """One document per thread: its question as title, its answers as paragraphs."""
    documents = []
    for line in (STACKFAQ / "corpus_threads.jsonl").read_text().splitlines():
        thread = json.loads(line)
        blocks = [" ".join(p.split()) for p in thread["text"].split("\n\n") if p.strip()]
        section = Section(headings=(thread["title"],), blocks=blocks)
        documents.append(Document(thread["_id"], thread["title"], "", [section]))
    return documents


def stackfaq_queries() -> list[tuple[str, str]]:
    """(query text, relevant thread id) for every paraphrased query."""
    relevant = {}
    for line in (STACKFAQ / "qrels_threads.tsv").read_text().splitlines()[1:]:
        query_id, thread_id, _ = line.split("\t")
        relevant[query_id] = thread_id
    queries = [json.loads(line) for line in (STACKFAQ / "queries.jsonl").read_text().splitlines()]
    return [(q["text"], relevant[q["_id"]]) for q in queries if q["_id"] in relevant]


Question = tuple[str, Callable[[Passage], bool]]


def _ranks(
    retriever: Retriever, questions: Sequence[Question], per_document: bool
) -> list[int | None]:
    ranks = []
    for text, wanted in questions:
        passages = retriever.search(text, top_k=50)
        ranks.append(first_rank(best_per_document(passages) if per_document else passages, wanted))
    return ranks


class _CachedQueries:
    """Embeds each query once, whatever mode or alpha is being measured."""

    def __init__(self, embedder: SentenceTransformerEmbedder, texts: Sequence[str]) -> None:
        self.embedder = embedder
        unique = sorted({" ".join(t.split()) for t in texts})
        vectors = embedder.embed([embedder.query_prefix + t for t in unique])
        self.vectors = dict(zip(unique, vectors, strict=True))

    @property
    def name(self) -> str:
        return self.embedder.name

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self.embedder.embed(texts, batch_size=batch_size)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.vectors.get(text)
        return vector if vector is not None else self.embedder.embed_query(text)


_INDEXED: dict[tuple[str, str], tuple[InMemoryStore, float]] = {}


def _indexed(
    corpus: str, documents: list[Document], embedder: SentenceTransformerEmbedder
) -> tuple[InMemoryStore, float]:
    """An exact store over `documents` and the seconds embedding took, once per model."""
    key = (embedder.name, corpus)
    if key not in _INDEXED:
        chunks = [c for d in documents for c in chunk_document(d)]
        started = time.perf_counter()
        vectors = embedder.embed([c.embedding_text() for c in chunks])
        _INDEXED[key] = (_store(chunks, vectors), time.perf_counter() - started)
    return _INDEXED[key]


def own_documents() -> list[Document]:
    docs_dir = ROOT / "data" / "docs"
    return [load_document(path, docs_dir) for path in document_files(docs_dir)]


def _evaluate(
    corpus: str,
    documents: list[Document],
    questions: list[Question],
    embedder: SentenceTransformerEmbedder,
    *,
    per_document: bool,
) -> dict[str, Any]:
    store, embed_seconds = _indexed(corpus, documents, embedder)
    chunks = store.chunks()
    cached = _CachedQueries(embedder, [q for q, _ in questions])
    results: dict[str, Any] = {"chunks": len(chunks), "embed_seconds": round(embed_seconds, 1)}
    for mode in MODES:
        retriever = Retriever(store, cached, mode=mode, alphas={"zh": DEFAULT_HYBRID_ALPHA_ZH})
        results[mode] = score_ranks(_ranks(retriever, questions, per_document)).__dict__
    results["alpha_sweep"] = {
        str(alpha): score_ranks(
            _ranks(Retriever(store, cached, mode="hybrid", alpha=alpha), questions, per_document)
        ).__dict__
        for alpha in ALPHAS
    }
    return results


def bench_stackfaq(embedder: SentenceTransformerEmbedder) -> dict[str, Any]:
    """Thread retrieval for the 1,249 paraphrased queries (a thread ranks by its best chunk)."""
    questions = [(text, _in_document(thread)) for text, thread in stackfaq_queries()]
    return _evaluate("stackfaq", stackfaq_documents(), questions, embedder, per_document=True)


def _in_document(document: str) -> Callable[[Passage], bool]:
    return lambda passage: passage.citation.document == document


# --- the project's own documents ----------------------------------------------------------


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _in_section(document: str, section: str) -> Callable[[Passage], bool]:
    def wanted(passage: Passage) -> bool:
        if passage.citation.document != document:
            return False
        return not section or _same(passage.citation.section, section)

    return wanted


def own_questions(path: Path = QUESTIONS, part: str = "questions") -> list[dict[str, str]]:
    """data/eval/document_questions.yml: {question, document, section} entries (``part``:
    the list of the file's mapping to read)."""
    if not path.exists():
        return []
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    entries = loaded.get(part, []) if isinstance(loaded, dict) else loaded
    return [e for e in entries if isinstance(e, dict) and e.get("question")]


def bench_own(
    embedder: SentenceTransformerEmbedder, entries: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """Document + section match for the project's question set (or ``entries``)."""
    documents = own_documents()
    questions = [
        (str(e["question"]), _in_section(str(e["document"]), str(e.get("section") or "")))
        for e in (own_questions() if entries is None else entries)
    ]
    if not questions:
        return {"questions": 0}
    results = _evaluate("own", documents, questions, embedder, per_document=False)
    results["documents"] = len(documents)
    return results


def bench_chinese(embedder: SentenceTransformerEmbedder) -> dict[str, Any]:
    """Chinese questions: to the Chinese versions, across to English-only documents, and the
    best keyword score of answerable vs off-topic Chinese questions (what decides a Chinese
    question's refusal: RETRIEVAL_MIN_KEYWORD_ZH)."""
    same = own_questions(QUESTIONS_ZH, "questions")
    across = own_questions(QUESTIONS_ZH, "cross_lingual")
    result: dict[str, Any] = {
        "zh_to_zh": bench_own(embedder, same),
        "zh_to_en": bench_own(embedder, across),
    }
    store, _ = _indexed("own", own_documents(), embedder)
    retriever = Retriever(store, embedder, mode="hybrid", alpha=DEFAULT_HYBRID_ALPHA_ZH)
    off_topic = _chinese_off_topic()

    def best(texts: list[str]) -> np.ndarray:
        """The best keyword score among each question's top 5 passages (what refuses)."""
        return np.array(
            [max((p.keyword for p in retriever.search(t, 5)), default=0.0) for t in texts]
        )

    inside = best([str(e["question"]) for e in same])
    outside = best(off_topic)
    result["calibration"] = {
        "answerable": len(inside),
        "off_topic": len(outside),
        "thresholds": {
            f"{t:.1f}": {
                "answered": round(float((inside >= t).mean()), 3),
                "off_topic_refused": round(float((outside < t).mean()), 3),
            }
            for t in np.arange(1.0, 6.01, 0.5)
        },
    }
    return result


def _chinese_off_topic() -> list[str]:
    """Chinese out_of_scope utterances: the held-out NLU test set's and the training data's
    (not trained on for retrieval, so both are unseen here)."""
    texts = []
    for path in (NLU_TEST_ZH, *sorted(NLU_DIR.glob("nlu_zh_*.yml"))):
        texts += _intent_examples(path, "out_of_scope")
    return texts


def _intent_examples(path: Path, intent: str) -> list[str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    texts = []
    for block in data.get("nlu") or []:
        if block.get("intent") == intent:
            texts += [
                re.sub(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})", r"\1", line[2:].strip())
                for line in str(block["examples"]).splitlines()
                if line.strip().startswith("- ")
            ]
    return texts


# --- refusal threshold --------------------------------------------------------------------


def calibrate(embedder: SentenceTransformerEmbedder) -> dict[str, Any]:
    """Best-passage similarity of answerable questions vs CLINC150's out-of-scope queries."""
    store, _ = _indexed("own", own_documents(), embedder)
    answerable = [str(e["question"]) for e in own_questions()]
    clinc = json.loads(CLINC.read_text())
    off_topic = [text for text, _ in clinc["oos_test"]]

    def best(texts: list[str]) -> np.ndarray:
        vectors = embedder.embed([embedder.query_prefix + t for t in texts])
        return np.array([store.search(v, 1)[0][1] for v in vectors])

    inside, outside = best(answerable), best(off_topic)
    table = {}
    for threshold in np.arange(0.20, 0.61, 0.05):
        table[f"{threshold:.2f}"] = {
            "answered": round(float((inside >= threshold).mean()), 3),
            "off_topic_refused": round(float((outside < threshold).mean()), 3),
        }
    return {"answerable": len(inside), "off_topic": len(outside), "thresholds": table}


# --- embedding speed ----------------------------------------------------------------------


def embedding_throughput(embedder: SentenceTransformerEmbedder, texts: list[str]) -> float:
    """Sentences per second, batch 64, after a warm-up pass."""
    embedder.embed(texts[:128])
    started = time.perf_counter()
    embedder.embed(texts, batch_size=64)
    return len(texts) / (time.perf_counter() - started)


def machine() -> str:
    """The CPU, and how busy the machine was: figures taken under load are slower."""
    load = os.getloadavg()[0]
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}, load average {load:.1f} at start"


PARTS = ("stackfaq", "own", "calibration", "speed", "chinese")


def run_quality(*, models: list[str], parts: Sequence[str] = PARTS) -> int:
    """The quality benchmarks for each model; print tables, write var/results/retrieval.json."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"parts must be among {PARTS}, got {sorted(unknown)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "models": {}}
    for model in models:
        embedder = SentenceTransformerEmbedder(model)
        started = time.perf_counter()
        embedder.warm_up()
        result: dict[str, Any] = {"load_seconds": round(time.perf_counter() - started, 1)}
        print(f"\n## {model}  (model load {result['load_seconds']} s)")
        if "speed" in parts:
            result["speed"] = speed(embedder)
            print(f"sentences/s (batch 64): {result['speed']}")
        if "stackfaq" in parts:
            result["stackfaq"] = bench_stackfaq(embedder)
        if "own" in parts:
            result["own"] = bench_own(embedder)
        if "chinese" in parts:
            result["chinese"] = bench_chinese(embedder)
            for part in ("zh_to_zh", "zh_to_en"):
                result[f"chinese {part}"] = result["chinese"][part]
        for name in ("stackfaq", "own", "chinese zh_to_zh", "chinese zh_to_en"):
            data = result.pop(name, None) if name.startswith("chinese ") else result.get(name)
            data = data or {}
            if "dense" not in data:
                continue
            print(f"\n{name}: {data['chunks']} chunks\n| mode | nDCG@10 | recall@5 | MRR |")
            for mode in MODES:
                print(f"| {mode} | {Scores(**data[mode]).row()} |")
            for alpha, scores in data["alpha_sweep"].items():
                print(f"| hybrid α={alpha} | {Scores(**scores).row()} |")
        if "calibration" in parts and own_questions():
            result["calibration"] = calibrate(embedder)
            print("\nthreshold | answered | off-topic refused")
            for t, row in result["calibration"]["thresholds"].items():
                print(f"{t} | {row['answered']} | {row['off_topic_refused']}")
        if "chinese" in parts:
            print("\nChinese: best keyword score | answered | off-topic refused")
            for t, row in result["chinese"]["calibration"]["thresholds"].items():
                print(f"{t} | {row['answered']} | {row['off_topic_refused']}")
        report["models"][model] = result
    name = "retrieval.json" if set(parts) == set(PARTS) else f"retrieval_{'_'.join(parts)}.json"
    (RESULTS / name).write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten: {(RESULTS / name).relative_to(ROOT)}")
    return 0


def speed(embedder: SentenceTransformerEmbedder) -> dict[str, float]:
    """Sentences per second for short questions and for chunk-sized passages."""
    questions = [q for q, _ in stackfaq_queries()][:512]
    passages = [c.embedding_text() for d in stackfaq_documents() for c in chunk_document(d)]
    return {
        "questions": round(embedding_throughput(embedder, questions), 1),
        "chunks": round(embedding_throughput(embedder, passages[:256]), 1),
    }


# --- scale --------------------------------------------------------------------------------


def clustered_vectors(
    n: int, dim: int, *, clusters: int = 2000, latent: int = 48, seed: int = 0
) -> np.ndarray:
    """Unit vectors with the structure of real embeddings: clusters on a low-rank manifold.

    Uniform random vectors make every neighbour almost equally far, which no ANN index (and
    no real corpus) looks like; each cluster here spreads along its own few directions.
    """
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((latent, dim)).astype(np.float32) / math.sqrt(latent)
    centres = rng.standard_normal((clusters, latent)).astype(np.float32) @ basis
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        m = min(step, n - start)
        labels = rng.integers(0, clusters, m)
        local = rng.standard_normal((m, latent)).astype(np.float32) @ basis
        noise = rng.standard_normal((m, dim)).astype(np.float32) * 0.05
        block = centres[labels] + 0.6 * local + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block
    return out


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _qps(index: Any, queries: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    _, ids = index.search(queries, k)
    return len(queries) / (time.perf_counter() - started), ids


def _single_qps(index: Any, queries: np.ndarray, k: int) -> float:
    started = time.perf_counter()
    for q in queries:
        index.search(q.reshape(1, -1), k)
    return len(queries) / (time.perf_counter() - started)


def run_scale(*, size: int, dim: int, queries: int, kind: str) -> int:
    """Build exact and approximate indexes over `size` clustered vectors and compare them."""
    import faiss

    RESULTS.mkdir(parents=True, exist_ok=True)
    chosen: IndexKind = parse_kind(kind) or choose_index(size, gpu=False).kind
    print(f"{size:,} × {dim} clustered vectors, {queries} queries, approximate index: {chosen}")
    started = time.perf_counter()
    data = clustered_vectors(size + queries, dim)
    corpus, probe = data[:size], data[size:]
    print(f"generated in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    exact = build_index(corpus, "flat")
    exact_build = time.perf_counter() - started
    exact_qps, truth = _qps(exact, probe, 10)
    exact_single = _single_qps(exact, probe[:50], 10)
    del exact

    before = _rss_mb()
    started = time.perf_counter()
    approx = build_index(corpus, chosen)
    build_seconds = time.perf_counter() - started
    index_mb = faiss.serialize_index(approx).nbytes / 2**20
    approx_qps, found = _qps(approx, probe, 10)
    approx_single = _single_qps(approx, probe[:500], 10)
    recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    result = {
        "machine": machine(),
        "vectors": size,
        "dim": dim,
        "queries": queries,
        "kind": chosen,
        "exact": {"build_seconds": round(exact_build, 1), "qps_batched": round(exact_qps, 1),
                  "qps_single": round(exact_single, 1), "memory_mb": round(size * dim * 4 / 2**20)},
        "approximate": {"build_seconds": round(build_seconds, 1),
                        "qps_batched": round(approx_qps, 1), "qps_single": round(approx_single, 1),
                        "index_mb": round(index_mb), "rss_growth_mb": round(_rss_mb() - before),
                        "recall_at_10": round(recall, 4)},
        "speedup_batched": round(approx_qps / exact_qps, 1),
        "speedup_single": round(approx_single / exact_single, 1),
    }  # fmt: skip
    print(json.dumps(result, indent=1))
    (RESULTS / f"index_scale_{size}.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.retrieval quality|scale` (make bench-retrieval, bench-index-scale)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="python -m benchmarks.retrieval", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    quality = commands.add_parser("quality", help="StackFAQ and own-document quality, calibration")
    quality.add_argument("--models", default="all-MiniLM-L6-v2", help="comma-separated models")
    quality.add_argument(
        "--parts", default="stackfaq,own,calibration,speed", help="comma-separated subset"
    )
    scale = commands.add_parser("scale", help="approximate vs exact FAISS at scale")
    scale.add_argument("--size", type=int, default=1_000_000)
    scale.add_argument("--dim", type=int, default=384)
    scale.add_argument("--queries", type=int, default=1000)
    scale.add_argument("--kind", default="auto", help="auto, hnsw, ivf or ivfpq")
    args = parser.parse_args(argv)
    if args.command == "quality":
        return run_quality(models=_list(args.models), parts=_list(args.parts))
    return run_scale(size=args.size, dim=args.dim, queries=args.queries, kind=args.kind)


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


if __name__ == "__main__":
    raise SystemExit(main())

"""Out-of-stock alternatives (erp/alternatives.py) against alternatives judged by hand.

``python -m benchmarks.alternatives`` (``make bench-alternatives``) seeds the demo ERP (scale
1, 500 products) into a temporary SQLite database (or reads ``--url``), treats each product
of data/eval/alternatives.yml as out of stock, and compares what would be offered with the
products judged acceptable there. Two methods go through the same ranking
(``erp.alternatives.ranked_alternatives``): the embedding similarity of name, category and
description with all-MiniLM-L6-v2 (what the assistant uses), and a baseline that scores
products of the same category by the overlap of their name's words (Jaccard).

Two views of each:

- most similar: the three highest-scoring products, stock and threshold ignored: how well
  the similarity alone finds substitutes (precision@3, recall@3 against at most 3, hit@1),
  over the products that have an acceptable substitute;
- offered: what a customer is offered, up to 3 products in stock (the shipped threshold,
  shortlist and availability order): precision@3 over the products with an offer, hit@1,
  and how often a product with no acceptable substitute got an offer anyway.

    python -m benchmarks.alternatives --json var/bench/alternatives.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import yaml
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot import paths
from demo.seed import seed
from erp.alternatives import (
    CLOSE_MARGIN,
    MIN_SIMILARITY,
    SHORTLIST,
    CatalogueProduct,
    catalogue_products,
    ranked_alternatives,
)
from erp.db import make_engine
from erp.product_vectors import FIELD_WEIGHTS, TextEncoder, product_vectors, similarities
from erp.schema import forget_schemas
from retrieval.vector_cache import PRODUCT_MODEL

JUDGED = paths.ROOT / "data" / "eval" / "alternatives.yml"
MODEL = PRODUCT_MODEL
TODAY = date(2026, 11, 1)
TOP = 3
# The baseline offers products sharing at least a quarter of their name's words.
BASELINE_MIN = 0.25
JSON_PATH = Path("var/bench/alternatives.json")
_WORD = re.compile(r"[a-z0-9]+(?:[./][a-z0-9]+)*")

# Scores of every product against product ``index`` of the catalogue.
Scorer = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class Judged:
    """One product of the judged file and the SKUs judged acceptable in its place."""

    sku: str
    name: str
    acceptable: frozenset[str]


@dataclass(frozen=True)
class Case:
    """What one method ranked and offered for one judged product."""

    sku: str
    most_similar: tuple[str, ...]
    offered: tuple[str, ...]
    acceptable: tuple[str, ...]


@dataclass
class Summary:
    """One method's figures over the judged products."""

    method: str
    products: int
    with_substitute: int
    similar_precision: float
    similar_recall: float
    similar_hit: float
    offered_products: int
    offered_precision: float
    offered_hit: float
    offered_micro: float
    no_substitute: int
    no_substitute_offered: int
    cases: list[Case] = field(default_factory=list, repr=False)


def load_judged(path: Path = JUDGED) -> list[Judged]:
    """The judged products of ``path`` (data/eval/alternatives.yml)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Judged(str(item["sku"]), str(item["name"]), frozenset(map(str, item["acceptable"])))
        for item in document["products"]
    ]


def check_catalogue(judged: Sequence[Judged], products: Sequence[CatalogueProduct]) -> None:
    """Fail when the judged file does not describe this catalogue (another seed or ERP).

    Raises:
        SystemExit: a judged SKU is missing or has another name.
    """
    names = {p.sku: p.name for p in products}
    problems = [
        f"{j.sku}: judged as {j.name!r}, the catalogue has {names.get(j.sku)!r}"
        for j in judged
        if names.get(j.sku) != j.name
    ]
    problems += [
        f"{j.sku}: acceptable {sku} is not in the catalogue"
        for j in judged
        for sku in sorted(j.acceptable - names.keys())
    ]
    if problems:
        raise SystemExit(
            f"{JUDGED.name} was judged on another catalogue:\n  " + "\n  ".join(problems[:10])
        )


def name_words(name: str) -> frozenset[str]:
    """The lower-case words of a product name ("0.5m", "1/2in" and "usb-c"'s parts kept)."""
    return frozenset(_WORD.findall(name.lower()))


def overlap_scorer(products: Sequence[CatalogueProduct]) -> Scorer:
    """The baseline: Jaccard overlap of name words with products of the same category, 0
    for other categories."""
    words = [name_words(p.name) for p in products]

    def scores(index: int) -> np.ndarray:
        mine, category = words[index], products[index].category
        return np.array(
            [
                len(mine & other) / len(mine | other)
                if product.category == category and mine | other
                else 0.0
                for product, other in zip(products, words, strict=True)
            ],
            dtype=np.float32,
        )

    return scores


def embedding_scorer(products: Sequence[CatalogueProduct], encoder: TextEncoder) -> Scorer:
    """The assistant's method: name, category and description embedded apart, their
    similarities weighted (erp/product_vectors.py)."""
    vectors = product_vectors(products, encoder)
    return lambda index: similarities(vectors, index)


def one_text_scorer(products: Sequence[CatalogueProduct], encoder: TextEncoder) -> Scorer:
    """For comparison: name, category and description embedded as one text."""
    texts = [". ".join(t for t in (p.name, p.category, p.description) if t) for p in products]
    vectors = np.asarray(encoder.embed(texts), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return lambda index: np.asarray(vectors @ vectors[index], dtype=np.float32)


def evaluate(
    method: str,
    scorer: Scorer,
    judged: Sequence[Judged],
    products: Sequence[CatalogueProduct],
    *,
    min_similarity: float,
    margin: float,
    shortlist: int,
    session: Session,
) -> Summary:
    """Rank and offer alternatives for every judged product with ``scorer``."""
    position = {p.sku: i for i, p in enumerate(products)}
    cases = []
    for item in judged:
        index = position[item.sku]
        scores = scorer(index)
        order = [int(i) for i in np.argsort(-scores, kind="stable") if i != index]
        found = ranked_alternatives(
            products,
            scores,
            index,
            limit=TOP,
            session=session,
            min_similarity=min_similarity,
            margin=margin,
            shortlist=shortlist,
        )
        cases.append(
            Case(
                sku=item.sku,
                most_similar=tuple(products[i].sku for i in order[:TOP]),
                offered=tuple(a.sku for a in found.in_stock),
                acceptable=tuple(sorted(item.acceptable)),
            )
        )
    return summarise(method, cases)


def summarise(method: str, cases: Sequence[Case]) -> Summary:
    """Precision, recall and hits of the two views (see the module's docstring)."""
    substitutable = [c for c in cases if c.acceptable]
    offering = [c for c in cases if c.offered]
    without = [c for c in cases if not c.acceptable]

    def good(skus: Sequence[str], case: Case) -> int:
        return sum(1 for sku in skus if sku in case.acceptable)

    offered_total = sum(len(c.offered) for c in offering)
    return Summary(
        method=method,
        products=len(cases),
        with_substitute=len(substitutable),
        similar_precision=_mean(good(c.most_similar, c) / TOP for c in substitutable),
        similar_recall=_mean(
            good(c.most_similar, c) / min(TOP, len(c.acceptable)) for c in substitutable
        ),
        similar_hit=_mean(float(c.most_similar[0] in c.acceptable) for c in substitutable),
        offered_products=len(offering),
        offered_precision=_mean(good(c.offered, c) / len(c.offered) for c in offering),
        offered_hit=_mean(float(c.offered[0] in c.acceptable) for c in offering),
        offered_micro=sum(good(c.offered, c) for c in offering) / offered_total
        if offered_total
        else 0.0,
        no_substitute=len(without),
        no_substitute_offered=sum(1 for c in without if c.offered),
        cases=list(cases),
    )


def _mean(values: Iterable[float]) -> float:
    found = list(values)
    return statistics.fmean(found) if found else 0.0


def table(summaries: Sequence[Summary]) -> str:
    """The figures as the Markdown table docs/benchmarks.md shows."""
    lines = [
        "| method | most similar: precision@3 | recall@3 | hit@1 | offered: products with "
        "an offer | precision@3 | hit@1 | offers acceptable (all) | no substitute, offered "
        "anyway |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s.method} | {s.similar_precision:.2f} | {s.similar_recall:.2f} | "
            f"{s.similar_hit:.2f} | {s.offered_products} of {s.products} | "
            f"{s.offered_precision:.2f} | {s.offered_hit:.2f} | {s.offered_micro:.2f} | "
            f"{s.no_substitute_offered} of {s.no_substitute} |"
        )
    return "\n".join(lines)


def run(
    engine: Engine,
    judged: Sequence[Judged],
    *,
    min_similarity: float,
    margin: float,
    shortlist: int,
    baseline_min: float,
) -> list[Summary]:
    """The baseline and the embedding methods over ``judged`` on the ERP behind ``engine``."""
    from retrieval.embedding import SentenceTransformerEmbedder

    encoder = SentenceTransformerEmbedder(MODEL)
    weights = "/".join(f"{w:g}" for w in FIELD_WEIGHTS.values())
    with Session(engine) as session:
        products = catalogue_products(session=session)
        check_catalogue(judged, products)
        methods: list[tuple[str, Scorer, float]] = [
            ("baseline: same category, name-word overlap", overlap_scorer(products), baseline_min),
            (f"{MODEL}, one text", one_text_scorer(products, encoder), min_similarity),
            (
                f"{MODEL}, fields weighted {weights} (shipped)",
                embedding_scorer(products, encoder),
                min_similarity,
            ),
        ]
        return [
            evaluate(
                name,
                scorer,
                judged,
                products,
                min_similarity=threshold,
                margin=margin,
                shortlist=shortlist,
                session=session,
            )
            for name, scorer, threshold in methods
        ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.alternatives", description=__doc__)
    parser.add_argument("--url", help="an ERP database to read (default: seed the demo)")
    parser.add_argument("--judged", type=Path, default=JUDGED, help="the hand-judged file")
    parser.add_argument(
        "--min-similarity", type=float, default=MIN_SIMILARITY, help="embedding threshold"
    )
    parser.add_argument(
        "--margin", type=float, default=CLOSE_MARGIN, help="close: within this of the best"
    )
    parser.add_argument(
        "--baseline-min", type=float, default=BASELINE_MIN, help="baseline's overlap threshold"
    )
    parser.add_argument("--shortlist", type=int, default=SHORTLIST, help="candidates ranked")
    parser.add_argument("--json", type=Path, help="also write the figures and cases here")
    args = parser.parse_args(argv)
    if args.shortlist < 1:
        parser.error("--shortlist must be greater than 0")
    judged = load_judged(args.judged)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        forget_schemas()
        engine = make_engine(args.url or f"sqlite:///{Path(folder) / 'alternatives.db'}")
        try:
            if not args.url:
                print("seeding the demo ERP at scale 1...", file=sys.stderr)
                seed(engine, scale=1.0, today=TODAY, progress=False)
            summaries = run(
                engine,
                judged,
                min_similarity=args.min_similarity,
                margin=args.margin,
                shortlist=args.shortlist,
                baseline_min=args.baseline_min,
            )
        finally:
            engine.dispose()
            forget_schemas()
    elapsed = time.perf_counter() - started
    print(table(summaries))
    print(f"({elapsed:.0f} s, seed, embeddings and ranking)", file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {
            "judged": len(judged),
            "min_similarity": args.min_similarity,
            "margin": args.margin,
            "baseline_min": args.baseline_min,
            "shortlist": args.shortlist,
            "seconds": round(elapsed, 1),
            "methods": [{k: v for k, v in asdict(s).items() if k != "cases"} for s in summaries],
            "cases": {s.method: [asdict(c) for c in s.cases] for s in summaries},
        }
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

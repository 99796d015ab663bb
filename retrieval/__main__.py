"""`python -m retrieval`: build the document index and search it (the benchmarks are
`python -m benchmarks.retrieval`)."""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="python -m retrieval", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    index = commands.add_parser("index", help="build or update the index (var/index)")
    index.add_argument("--force", action="store_true", help="re-embed every document")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    ask = commands.add_parser("search", help="search the index and print the passages")
    ask.add_argument("query")
    ask.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args(argv)

    if args.command == "index":
        from retrieval.indexer import update_index

        report = update_index(progress=not args.quiet, force=args.force)
        print(report.summary())
        return 0
    from retrieval.service import search

    for passage in search(args.query, top_k=args.top_k):
        print(f"{passage.score:.3f} (cos {passage.similarity:.3f})  {passage.citation.label}")
        print(f"    {passage.citation.url}\n    {passage.text[:200]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

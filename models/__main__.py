"""`python -m models`: answer one question from a context file with the configured generator.

Training, export and evaluation are `python -m training`; the benchmarks `python -m
benchmarks.generator` and `python -m benchmarks.generator_zh`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from models.cli import run_offline

if TYPE_CHECKING:
    from models.examples import ContextItem


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    return run_offline(_parser().parse_args(argv))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="answer one question from a context file")
    generate.add_argument("question")
    generate.add_argument(
        "--context", type=Path, required=True, help="a text file, or JSON list of {source, text}"
    )
    generate.set_defaults(run=_generate)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from models import guard
    from models.generator import load_generator
    from models.prompt import build_prompt
    from models.settings import GeneratorSettings

    settings = GeneratorSettings.from_env()
    context = _read_context(args.context)
    generator = load_generator(settings)
    if generator is None:
        raise ValueError("GENERATOR_BACKEND is off")
    prompt = build_prompt(
        args.question,
        context,
        max_tokens=settings.prompt_tokens,
        count_tokens=generator.count_tokens,
    )
    started = time.perf_counter()
    first: float | None = None
    pieces = []
    for piece in generator.stream(prompt.text):
        first = first if first is not None else time.perf_counter() - started
        pieces.append(piece)
        print(piece, end="", flush=True)
    seconds = time.perf_counter() - started
    answer = "".join(pieces).strip()
    check = guard.check(answer, list(prompt.items))
    print(
        f"\n\n[{generator.name}: {generator.count_tokens(answer)} tokens in {seconds:.2f} s, "
        f"first text after {first or 0:.2f} s; guard "
        f"{'passed' if check.passed else 'FAILED: ' + ', '.join(check.unsupported)}]"
    )
    return 0


def _read_context(path: Path) -> list[ContextItem]:
    from models.examples import ContextItem

    if not path.is_file():
        raise ValueError(f"no such context file: {path}")
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            items = json.loads(raw)
            return [
                ContextItem(
                    source=str(item.get("source", path.name)),
                    text=str(item["text"]),
                    ref=str(item.get("ref", f"{path.name}#{number}")),
                )
                for number, item in enumerate(items, 1)
            ]
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as error:
            raise ValueError(
                f"{path} must hold a JSON list of objects with a 'text' (and 'source'): {error}"
            ) from error
    if not raw.strip():
        raise ValueError(f"{path} is empty")
    return [ContextItem(source=path.stem, text=raw.strip(), ref=path.name)]


if __name__ == "__main__":
    raise SystemExit(main())

"""Parse files of utterances with a trained Rasa model and write what it predicted.

Runs in the Rasa environment, for `python -m benchmarks.nlu`:

    .venv-rasa/bin/python -m bot.components.evaluate MODEL.tar.gz in.json out.jsonl [in out ...]

Each input is a JSON list of strings. Each output line holds the intent Rasa returned
(`nlu_fallback` when the FallbackClassifier fired), the best real intent under it with its
confidence, the entities found (name and value) and the milliseconds the parse took.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

FALLBACK_INTENT = "nlu_fallback"


def _top_real_intent(parsed: dict[str, Any]) -> tuple[str, float]:
    """The highest-ranked intent that is not the fallback the FallbackClassifier inserted."""
    for item in parsed.get("intent_ranking") or []:
        if item["name"] != FALLBACK_INTENT:
            return str(item["name"]), float(item["confidence"])
    intent = parsed.get("intent") or {}
    return str(intent.get("name")), float(intent.get("confidence") or 0.0)


async def _parse_all(model: Path, files: list[tuple[Path, Path]]) -> None:
    from rasa.core.agent import Agent
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # Rasa's per-message debug lines would be timed with the parse.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)

    agent = Agent.load(str(model))
    # The first parse builds lazy state; keep it out of the latency figures.
    await agent.parse_message("hello")
    for source, out in files:
        await _parse_file(agent, json.loads(source.read_text()), out)


async def _parse_file(agent: Any, texts: list[str], out: Path) -> None:
    with out.open("w") as sink:
        for text in texts:
            started = time.perf_counter()
            parsed = await agent.parse_message(text)
            millis = (time.perf_counter() - started) * 1000
            top, confidence = _top_real_intent(parsed)
            record = {
                "text": text,
                "intent": parsed["intent"]["name"],
                "top_intent": top,
                "confidence": confidence,
                "entities": [
                    {"entity": e.get("entity"), "value": e.get("value")}
                    for e in parsed.get("entities") or []
                ],
                "ms": round(millis, 3),
            }
            sink.write(json.dumps(record) + "\n")


def main(argv: list[str]) -> int:
    """Entry point: MODEL, then pairs of UTTERANCES_JSON OUT_JSONL."""
    if len(argv) < 3 or len(argv) % 2 == 0:
        print(__doc__, file=sys.stderr)
        return 2
    model, *rest = (Path(a) for a in argv)
    asyncio.run(_parse_all(model, list(zip(rest[::2], rest[1::2], strict=True))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

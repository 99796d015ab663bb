"""The generator's training and evaluation examples: (question, context, answer) triples.

This module is the contract between the data builder (`training.dataset`), the trainer
(`training.train`), the evaluation (`training.evaluate`) and serving: they all speak `Example`
and `ContextItem`, and read and write them as JSON lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

ExampleKind = Literal["document", "erp", "refusal"]
Split = Literal["train", "heldout"]

# What the generator says when its context does not contain the answer. The action turns
# this exact sentence into the "I don't know" reply with a colleague button.
REFUSAL = "I'm sorry, I can't find that in the information I have."


@dataclass(frozen=True)
class ContextItem:
    """One piece of context the answer may use: a document passage or a set of ERP facts.

    ``source`` names it ("Returns policy › Refund timing", "ERP order SO-100123"); ``text`` is
    what the model reads. ``ref`` identifies it across examples (a chunk id or
    "erp:order:SO-100123"), so held-out examples can be kept apart from training ones.
    """

    source: str
    text: str
    ref: str


@dataclass(frozen=True)
class Example:
    """A question, the context shown with it, and the answer the model should write.

    ``kind`` is "document" (answer from passages), "erp" (answer from ERP facts) or
    "refusal" (the context does not hold the answer; ``answer`` is REFUSAL). ``facts`` lists
    the strings a correct answer must contain (numbers, ids, dates, prices, product names),
    used by exact-fact match.
    """

    id: str
    kind: ExampleKind
    question: str
    context: tuple[ContextItem, ...]
    answer: str
    facts: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["context"] = [asdict(item) for item in self.context]
        data["facts"] = list(self.facts)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Example:
        return cls(
            id=str(data["id"]),
            kind=data["kind"],
            question=str(data["question"]),
            context=tuple(ContextItem(**item) for item in data["context"]),
            answer=str(data["answer"]),
            facts=tuple(data.get("facts") or ()),
        )


def write_jsonl(path: Path, examples: Iterable[Example]) -> int:
    """Write examples one JSON object per line; returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for example in examples:
            out.write(json.dumps(example.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> Iterator[Example]:
    """Read examples written by `write_jsonl`."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield Example.from_json(json.loads(line))

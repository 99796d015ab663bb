"""One line per turn: what the locust users write and the report reads (JSON Lines)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

# The error of a turn still waiting for its answer when the run ended: recorded, so that every
# message sent is accounted for, and left out of the figures (the run's end, not the assistant).
CUT_OFF = "cut off: the run ended during the turn"


@dataclass(frozen=True)
class Turn:
    """One measured turn.

    ``at`` is when it was sent (Unix seconds); ``first_s`` and ``final_s`` are seconds from
    then to the first text and to the final answer (None when none came); ``on_script``
    says whether the reply was the answer the step asked for (a product found, the order's
    facts after verification), which is not an error: the assistant did answer. ``text`` is
    what the user sent, to find a failing turn in the assistant's logs; ``conversation`` the
    gateway's id of the conversation it was sent in (``web:<key>``), to find it in the
    transcript; ``reconnected`` whether the window's socket had dropped (its gateway replica
    died) since the previous turn or during this one, and the window connected again.
    """

    kind: str
    at: float
    first_s: float | None
    final_s: float | None
    error: str | None
    on_script: bool
    text: str = ""
    conversation: str = ""
    reconnected: bool = False

    @property
    def cut_off(self) -> bool:
        return self.error == CUT_OFF


def write_turn(turn: Turn, file: IO[str]) -> None:
    """Append ``turn`` as one JSON line and flush, so that a killed run keeps what it did."""
    file.write(json.dumps(asdict(turn)) + "\n")
    file.flush()


def read_turns(path: Path) -> list[Turn]:
    """Every turn in ``path`` (none when it does not exist); a torn last line is skipped."""
    if not path.exists():
        return []
    return list(_parse(path.read_text(encoding="utf-8").splitlines()))


def _parse(lines: Iterable[str]) -> Iterable[Turn]:
    for line in lines:
        try:
            data = json.loads(line)
            yield Turn(
                kind=str(data["kind"]),
                at=float(data["at"]),
                first_s=_seconds(data["first_s"]),
                final_s=_seconds(data["final_s"]),
                error=None if data["error"] is None else str(data["error"]),
                on_script=bool(data["on_script"]),
                text=str(data.get("text", "")),
                conversation=str(data.get("conversation", "")),
                reconnected=bool(data.get("reconnected", False)),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue


def _seconds(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]

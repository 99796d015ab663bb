"""How often answers used generated wording under load, counted from the action server's log.

The action server logs one line per ERP or document answer, e.g.
``... answer kind=erp wording=template ...``; only lines in that ``key=value`` form count.

Example:
    >>> counts = count_wording(["INFO answer kind=erp wording=generated ms=412"])
    >>> share_text(counts)
    'erp 1/1 generated (100%), doc –'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

ANSWER_KINDS = ("erp", "doc")
WORDINGS = ("generated", "template", "extractive")
_ANSWER = re.compile(r"\banswer((?:\s+[a-z_]+=\S+)+)")
_PAIR = re.compile(r"([a-z_]+)=(\S+)")


def count_wording(lines: Iterable[str]) -> dict[str, dict[str, int]]:
    """Answers per kind (erp, doc) and wording (generated, template, extractive)."""
    counts = {kind: dict.fromkeys(WORDINGS, 0) for kind in ANSWER_KINDS}
    for line in lines:
        match = _ANSWER.search(line)
        if match is None:
            continue
        fields = dict(_PAIR.findall(match.group(1)))
        kind, wording = fields.get("kind"), fields.get("wording")
        if kind in counts and wording in counts[kind]:
            counts[kind][wording] += 1
    return counts


def log_size(path: Path) -> int:
    """Bytes in ``path`` now (0 when it does not exist): where the next run's lines begin."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def count_since(path: Path, offset: int) -> dict[str, dict[str, int]] | None:
    """The wording counts of the lines written to ``path`` after ``offset`` bytes; None when
    no answer line was found at all (the action server does not log them: "n/a")."""
    if not path.exists():
        return None
    with path.open("rb") as file:
        file.seek(offset)
        text = file.read().decode("utf-8", errors="replace")
    counts = count_wording(text.splitlines())
    return counts if any(sum(c.values()) for c in counts.values()) else None


def share_text(counts: dict[str, dict[str, int]] | None) -> str:
    """``erp 12/340 generated (4%), doc 30/60 generated (50%)``, or ``n/a`` without counts."""
    if counts is None:
        return "n/a"
    parts = []
    for kind in ANSWER_KINDS:
        by_wording = counts.get(kind, {})
        total = sum(by_wording.values())
        generated = by_wording.get("generated", 0)
        parts.append(
            f"{kind} {generated}/{total} generated ({generated / total:.0%})"
            if total
            else f"{kind} –"
        )
    return ", ".join(parts)

"""Figures of a load run from its turns: percentiles per kind, turns/s, and the Markdown table.

Example:
    >>> run = summarise(read_turns(path), generator="off", users=50, seconds=60.0)
    >>> print(markdown_table([run]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from benchmarks.load.records import Turn
from benchmarks.load.scripts import ERP_KINDS, KINDS

PERCENTILES = (50, 95, 99)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (a value that occurred), None for no values.

    Raises:
        ValueError: ``q`` is not within 0..100.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class KindStats:
    """One kind of turn in one run. Percentiles are seconds over the turns that got that far:
    ``first`` over turns with a first text, ``final`` over answered turns without error."""

    kind: str
    turns: int
    errors: int
    off_script: int
    first: dict[int, float | None]
    final: dict[int, float | None]


@dataclass(frozen=True)
class Run:
    """One locust run: a generator setting, a number of users, ``seconds`` long."""

    generator: str
    users: int
    seconds: float
    kinds: list[KindStats]
    # Every turn of the run together.
    overall: KindStats
    # The ERP fact answers together (order, invoice, stock by name or SKU): the target.
    erp: KindStats | None = None
    # The share of answers by wording, from the action server's log (benchmarks/load/wording.py).
    wording: dict[str, dict[str, int]] | None = None
    down: list[str] = field(default_factory=list)
    # The machine's 1-minute load average as the run ended: other work skews the figures.
    load_average: float | None = None
    # CPU seconds each of the assistant's processes used during the run.
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def turns(self) -> int:
        return self.overall.turns

    @property
    def errors(self) -> int:
        return self.overall.errors

    @property
    def answered_per_s(self) -> float:
        """Turns answered without error per second of the run."""
        return (self.turns - self.errors) / self.seconds if self.seconds > 0 else 0.0


def kind_stats(kind: str, turns: Sequence[Turn]) -> KindStats:
    """The figures of ``turns`` (all of ``kind``)."""
    firsts = [t.first_s for t in turns if t.first_s is not None]
    finals = [t.final_s for t in turns if t.final_s is not None and t.error is None]
    return KindStats(
        kind=kind,
        turns=len(turns),
        errors=sum(t.error is not None for t in turns),
        off_script=sum(t.error is None and not t.on_script for t in turns),
        first={q: percentile(firsts, q) for q in PERCENTILES},
        final={q: percentile(finals, q) for q in PERCENTILES},
    )


def summarise(turns: Sequence[Turn], *, generator: str, users: int, seconds: float) -> Run:
    """Every kind's figures, in the order of benchmarks/load/scripts.KINDS (others after); turns cut
    off by the end of the run are left out."""
    turns = [t for t in turns if not t.cut_off]
    kinds = [*KINDS, *sorted({t.kind for t in turns} - set(KINDS))]
    return Run(
        generator=generator,
        users=users,
        seconds=seconds,
        kinds=[
            kind_stats(kind, [t for t in turns if t.kind == kind])
            for kind in kinds
            if any(t.kind == kind for t in turns)
        ],
        overall=kind_stats("all", turns),
        erp=kind_stats("erp", [t for t in turns if t.kind in ERP_KINDS]),
    )


def throughput_ratio(runs: Sequence[Run], users: int) -> float | None:
    """Answered turns/s with the generator on over the same with it off, at ``users``."""
    rates = {r.generator: r.answered_per_s for r in runs if r.users == users}
    if "on" not in rates or not rates.get("off"):
        return None
    return rates["on"] / rates["off"]


def markdown_table(runs: Sequence[Run]) -> str:
    """One table: a row per kind of each run, then the run's ``all`` row with turns/s and,
    on the generator-on run, its throughput as a share of the generator-off run's."""
    head = ("generator", "users", "kind", "turns", "first p50", "first p95", "first p99",
            "final p50", "final p95", "final p99", "errors", "off-script", "turns/s",
            "on/off")  # fmt: skip
    rows = [_row(head), _row(["---"] * len(head))]
    for run in runs:
        for k in run.kinds:
            rows.append(_row([run.generator, str(run.users), k.kind, str(k.turns),
                              *_times(k.first), *_times(k.final), str(k.errors),
                              str(k.off_script), "", ""]))  # fmt: skip
        if run.erp is not None and run.erp.turns:
            k = run.erp
            rows.append(_row([run.generator, str(run.users), "**erp answers**", str(k.turns),
                              *_times(k.first), *_times(k.final), str(k.errors),
                              str(k.off_script), "", ""]))  # fmt: skip
        ratio = throughput_ratio(runs, run.users) if run.generator == "on" else None
        every = run.overall
        rows.append(_row([run.generator, str(run.users), "**all**", str(every.turns),
                          *_times(every.first), *_times(every.final), str(every.errors),
                          str(every.off_script),
                          f"{run.answered_per_s:.2f}",
                          "" if ratio is None else f"{ratio:.0%}"]))  # fmt: skip
    return "\n".join(rows)


def _times(values: dict[int, float | None]) -> list[str]:
    return [_seconds(values.get(q)) for q in PERCENTILES]


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"

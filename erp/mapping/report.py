"""The text `python -m erp check-mapping` prints for a mapping checked against a database."""

from __future__ import annotations

from typing import Any

from erp.mapping.resolve import MappingReport

MAX_VALUE_CHARS = 40


def render(report: MappingReport, url: str) -> str:
    """Per concept: its table, rows, fields, status and a sample; then the verdict."""
    spec = report.spec
    lines = [
        f"Mapping {spec.file} ({spec.name}, {spec.currency}) against {url}",
        f"  identity: {spec.identity[0]} + {spec.identity[1]}",
    ]
    for kind, id_format in spec.ids.items():
        lines.append(f"  {kind} ids look like {id_format.example} ({id_format.pattern.pattern})")
    for concept in report.concepts:
        mark = "ok " if concept.resolved else "ERR"
        rows = "" if concept.rows is None else f": {concept.rows:,} rows"
        lines.append(f"{mark} {concept.name:<10} {concept.table}{rows}")
        fields = ", ".join(f"{name}={source}" for name, source in concept.fields.items())
        lines.append(f"      fields: {fields}")
        if concept.status:
            lines.append(f"      status: {concept.status}")
        if concept.sample is not None:
            sample = ", ".join(f"{k}={_short(v)}" for k, v in concept.sample.items())
            lines.append(f"      sample: {sample}")
        elif concept.resolved:
            lines.append("      sample: (no rows)")
        lines.extend(f"      {problem}" for problem in concept.problems)
    for name, reason in spec.missing.items():
        lines.append(f"--  {name:<10} missing: {reason}")
    declared = len(report.concepts)
    if report.resolved:
        lines.append(
            f"All {declared} declared concepts resolve ({len(spec.missing)} declared missing)."
        )
    else:
        failed = sum(not c.resolved for c in report.concepts)
        lines.append(f"{failed} of {declared} declared concepts do not resolve.")
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"

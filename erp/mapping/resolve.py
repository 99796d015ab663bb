"""Checking a mapping against a live database: what each concept resolves to.

Every table and column a mapping names is looked up by reflection (SQLAlchemy's inspector,
so table names with spaces or odd case are quoted by the dialect, never pasted into SQL),
each concept's rows are counted and one is sampled, and a status column's values are all
checked to have a meaning. Only SELECTs run. Problems name the line of the mapping file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Engine, MetaData, Select, Table, func, inspect, select
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from erp.mapping.spec import (
    IDENTITY_FACTORS,
    Concept,
    Lookup,
    MappingSpec,
    Source,
    describe_source,
)

# Sample values of these customer fields are masked in the report: it may be pasted anywhere.
PERSONAL_FIELDS = frozenset(IDENTITY_FACTORS) | {"name"}
MAX_STATUS_VALUES = 200


@dataclass
class ConceptReport:
    """One concept against the database: its table, rows, a sample and any problems."""

    name: str
    table: str
    fields: dict[str, str]
    rows: int | None = None
    sample: dict[str, Any] | None = None
    status: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return not self.problems


@dataclass
class MappingReport:
    """A whole mapping against a database."""

    spec: MappingSpec
    concepts: list[ConceptReport]

    @property
    def resolved(self) -> bool:
        return all(c.resolved for c in self.concepts)

    @property
    def problems(self) -> list[str]:
        return [p for c in self.concepts for p in c.problems]


def check_mapping(
    spec: MappingSpec, engine: Engine, *, probe: bool = True, tables: Tables | None = None
) -> MappingReport:
    """Resolve every concept of ``spec`` on ``engine``; never raises for a bad mapping.

    With ``probe`` (the check-mapping command), each concept's rows are counted, a sample
    row read and its status values compared with the mapping's; without (the bot at its
    first question), only tables and columns are looked up, which costs the same on a
    table of a hundred rows as on one of a hundred million.

    Raises:
        SQLAlchemyError: the database cannot be reached at all.
    """
    tables = tables or Tables(engine)
    return MappingReport(
        spec, [_check(concept, tables, probe=probe) for concept in spec.concepts.values()]
    )


class Tables:
    """The database's tables, each reflected once, when first asked for."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.metadata = MetaData()
        # Inspecting connects: an unreachable database fails here, early and clearly.
        inspector = inspect(engine)
        self.names = inspector.get_table_names() + inspector.get_view_names()

    def get(self, name: str) -> Table | None:
        if name in self.metadata.tables:
            return self.metadata.tables[name]
        if name not in self.names:
            return None
        try:
            return Table(name, self.metadata, autoload_with=self.engine)
        except NoSuchTableError:
            return None


def _check(concept: Concept, tables: Tables, *, probe: bool) -> ConceptReport:
    report = ConceptReport(
        concept.name,
        concept.table,
        {name: describe_source(source) for name, source in concept.fields.items()},
    )
    table = tables.get(concept.table)
    if table is None:
        hint = _close(concept.table, tables.names)
        report.problems.append(f"{concept.where}: {concept.name}: no table {concept.table!r}{hint}")
        return report
    columns: dict[str, Any] = {}
    joins: list[tuple[Any, Any]] = []
    for name, source in concept.fields.items():
        resolved = resolve_source(source, table, tables, concept.field_lines[name], report)
        if resolved is not None:
            columns[name] = resolved[0]
            if resolved[1] is not None:
                joins.append(resolved[1])
    status_column = _status_column(concept, table, tables, report, joins)
    if report.problems or not probe:
        return report
    with tables.engine.connect() as connection:
        try:
            report.rows = connection.execute(select(func.count()).select_from(table)).scalar_one()
            query = joined(select(*(c.label(n) for n, c in columns.items())), table, joins)
            row = connection.execute(query.limit(1)).mappings().first()
            report.sample = None if row is None else _masked(concept.name, dict(row))
            if status_column is not None and concept.status is not None:
                _check_status_values(concept, connection, table, joins, status_column, report)
        except SQLAlchemyError as error:
            report.problems.append(f"{concept.where}: {concept.name}: the query failed: {error}")
    return report


def resolve_source(
    source: Source, table: Table, tables: Tables, where: str, report: ConceptReport
) -> tuple[Column[Any], tuple[Any, Any] | None] | None:
    """The column a source reads, with the join a lookup needs; None (and a problem) if not."""
    if isinstance(source, str):
        if source in table.c:
            return table.c[source], None
        report.problems.append(
            f"{where}: {table.name} has no column {source!r}{_close(source, table.c.keys())}"
        )
        return None
    return _lookup(source, table, tables, where, report)


def _lookup(
    lookup: Lookup, table: Table, tables: Tables, where: str, report: ConceptReport
) -> tuple[Column[Any], tuple[Any, Any]] | None:
    other = tables.get(lookup.table)
    if other is None:
        report.problems.append(
            f"{where}: no table {lookup.table!r} to look up{_close(lookup.table, tables.names)}"
        )
        return None
    missing = [
        (owner, name)
        for owner, name in ((table, lookup.via), (other, lookup.key), (other, lookup.column))
        if name not in owner.c
    ]
    for owner, name in missing:
        report.problems.append(
            f"{where}: {owner.name} has no column {name!r}{_close(name, owner.c.keys())}"
        )
    if missing:
        return None
    # An alias per lookup, so that two lookups into one table (or the table itself) join apart.
    alias = other.alias(f"lookup_{len(report.fields)}_{lookup.column}_{lookup.via}")
    return alias.c[lookup.column], (alias, alias.c[lookup.key] == table.c[lookup.via])


def _status_column(
    concept: Concept,
    table: Table,
    tables: Tables,
    report: ConceptReport,
    joins: list[tuple[Any, Any]],
) -> Column[Any] | None:
    status = concept.status
    if status is None:
        return None
    source = status.source if status.source is not None else status.when_set
    assert source is not None
    resolved = resolve_source(source, table, tables, status.where, report)
    if resolved is None:
        return None
    if resolved[1] is not None:
        joins.append(resolved[1])
    if status.source is None:
        report.status = (
            f"from {describe_source(source)}: set means {status.then}, "
            f"empty means {status.otherwise}"
        )
    else:
        report.status = f"from {describe_source(source)}, {len(status.values)} values mapped"
    return resolved[0]


def _check_status_values(
    concept: Concept,
    connection: Any,
    table: Table,
    joins: list[tuple[Any, Any]],
    column: Column[Any],
    report: ConceptReport,
) -> None:
    status = concept.status
    assert status is not None
    if status.source is None:
        return
    query = joined(select(column).distinct(), table, joins).limit(MAX_STATUS_VALUES)
    found = [value for value in connection.execute(query).scalars() if value is not None]
    unmapped = sorted({str(value) for value in found} - set(status.values))
    if unmapped:
        report.problems.append(
            f"{status.where}: {concept.name} status values with no meaning: "
            + ", ".join(repr(v) for v in unmapped)
        )


def joined(query: Select[Any], table: Table, joins: Iterable[tuple[Any, Any]]) -> Select[Any]:
    source: Any = table
    for other, condition in joins:
        source = source.outerjoin(other, condition)
    return query.select_from(source)


def _masked(concept: str, row: dict[str, Any]) -> dict[str, Any]:
    if concept != "customer":
        return row
    return {
        name: _mask(value) if name in PERSONAL_FIELDS and value is not None else value
        for name, value in row.items()
    }


def _mask(value: Any) -> str:
    text = str(value)
    return text[:1] + "…" if len(text) > 1 else "…"


def _close(name: str, candidates: Iterable[str]) -> str:
    candidates = list(candidates)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    lowered = [c for c in candidates if c.lower() == name.lower() and c not in close]
    suggestions = lowered + close
    return f" (did you mean {', '.join(repr(c) for c in suggestions)}?)" if suggestions else ""

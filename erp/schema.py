"""The ERP schema the services read, as a mapping resolved on a database (one code path).

Every service function (orders, invoices, stock, customers, product names) reads through a
:class:`MappedSchema`: the tables and columns of a mapping file (erp/mappings/, docs/
erp-mapping.md) reflected on the session's engine. The demo schema is the mapping
``erp/mappings/demo.yml``; ``ERP_MAPPING`` names another. A schema is built once per engine
and mapping, and only if the mapping resolves there completely.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, Table, select
from sqlalchemy.orm import Session

from envvars import forget_current
from erp.errors import InvalidIdentifier
from erp.ids import clean_input
from erp.mapping.resolve import ConceptReport, Tables, check_mapping, joined, resolve_source
from erp.mapping.source import MappingError
from erp.mapping.spec import Concept, MappingSpec, load_mapping
from erp.settings import DEFAULT_MAPPING as DEFAULT_MAPPING  # where callers look for it
from erp.settings import MAPPING

MAPPING_ENV = MAPPING.name
MAX_ID_CHARS = 40
MAX_INPUT_CHARS = 200


class MappingUnusable(MappingError):
    """The mapping does not resolve on this database; ``problems`` lists every reason."""

    def __init__(self, spec: MappingSpec, problems: list[str]) -> None:
        super().__init__(spec.file, f"does not resolve: {'; '.join(problems)}")
        self.problems = problems


@dataclass(frozen=True)
class ConceptColumns:
    """One concept's table, its fields as column expressions, and the joins lookups need."""

    concept: Concept
    table: Table
    columns: dict[str, ColumnElement[Any]]
    joins: dict[str, tuple[Any, Any]]
    status: ColumnElement[Any] | None
    status_join: tuple[Any, Any] | None


class MappedSchema:
    """A mapping resolved on one database.

    Example:
        >>> schema = schema_for(session)
        >>> session.execute(schema.select("order", "number", "date").limit(1)).one()
    """

    def __init__(self, spec: MappingSpec, engine: Engine) -> None:
        tables = Tables(engine)
        report = check_mapping(spec, engine, probe=False, tables=tables)
        if not report.resolved:
            raise MappingUnusable(spec, report.problems)
        self.spec = spec
        self._concepts = {
            name: _columns(concept, tables) for name, concept in spec.concepts.items()
        }

    def has(self, concept: str, field: str | None = None) -> bool:
        """Whether the mapping has the concept (and, if given, maps that field of it)."""
        found = self._concepts.get(concept)
        return found is not None and (field is None or field in found.columns)

    def number_field(self, concept: str) -> str:
        """The field customers quote a record by: its ``number``, else its ``key``."""
        return "number" if self.has(concept, "number") else "key"

    def table(self, concept: str) -> Table:
        return self._concepts[concept].table

    def c(self, concept: str, field: str) -> ColumnElement[Any]:
        """The column expression of a mapped field (KeyError when it is not mapped)."""
        return self._concepts[concept].columns[field]

    def select(self, concept: str, *fields: str, status: bool = False) -> Select[Any]:
        """SELECT the given fields (labelled by field name), joined for their lookups."""
        found = self._concepts[concept]
        columns = [found.columns[f].label(f) for f in fields if f in found.columns]
        joins = [found.joins[f] for f in fields if f in found.joins]
        if status and found.status is not None:
            columns.append(found.status.label("status"))
            if found.status_join is not None:
                joins.append(found.status_join)
        return joined(select(*columns), found.table, joins)

    def status_meaning(self, concept: str, raw: Any) -> str:
        """The assistant's word for a status read with ``select(..., status=True)``."""
        status = self._concepts[concept].concept.status
        if status is None:
            return ""
        if status.source is None:
            return status.then if raw is not None and raw != "" else status.otherwise
        return status.values.get(str(raw), "")

    def raw_statuses(self, concept: str, meanings: Sequence[str]) -> list[str] | None:
        """The stored status values that mean one of ``meanings``; None when the status is
        derived (or there is none), so the rows cannot be picked by a stored value."""
        status = self._concepts[concept].concept.status
        if status is None or status.source is None:
            return None
        return [raw for raw, meaning in status.values.items() if meaning in meanings]

    def status_column(self, concept: str) -> ColumnElement[Any]:
        column = self._concepts[concept].status
        assert column is not None
        return column

    def key(self, concept: str, field: str, text: str) -> Any:
        """``text`` as a value of a mapped field's column (an integer column gets an int)."""
        column = self._concepts[concept].columns[field]
        try:
            kind = column.type.python_type
        except NotImplementedError:
            return text
        if kind is int:
            return int(text) if text.isdigit() else None
        return text

    def parse_id(self, kind: str, text: str, parser: Callable[[str], str]) -> str:
        """An identifier a customer typed, in the form the database holds (:func:`parse_id`)."""
        return parse_id(self.spec, kind, text, parser)


def parse_id(spec: MappingSpec, kind: str, text: str, parser: Callable[[str], str]) -> str:
    """An identifier a customer typed, in the form the database holds.

    ``parser`` is erp.ids' forgiving parser of the demo's form ("so 100123" ->
    "SO-100123"): its result is used when it fits the mapping's pattern (or the mapping
    gives none). Otherwise the text itself, trimmed of spaces, a leading ``#`` or "no.",
    and in upper case when that fits; else the one identifier of that pattern inside the
    sentence ("where is order 10248?").

    Needs only the mapping, not the database: the conversation checks ids before any query.

    Raises:
        InvalidIdentifier: the text fits neither (the parser's own reason if it has one), or
            the sentence holds several different identifiers.
    """
    id_format = spec.ids.get(kind)
    try:
        canonical = parser(text)
    except InvalidIdentifier as error:
        refused: InvalidIdentifier | None = error
    else:
        if id_format is None or id_format.pattern.fullmatch(canonical):
            return canonical
        refused = None
    if id_format is not None:
        cleaned = _cleaned(text)
        for candidate in (cleaned, cleaned.upper()):
            if id_format.pattern.fullmatch(candidate):
                return candidate
    # The parser's reason is the better one where its form is this ERP's form.
    if refused is not None and (id_format is None or _accepts(parser, id_format.example)):
        raise refused
    if id_format is not None:
        inside = _inside(id_format.pattern, clean_input(text, kind))
        if len(inside) == 1:
            return inside.pop()
        if inside:
            shown = ", ".join(sorted(inside))
            raise InvalidIdentifier(kind, text, f"it mentions several ({shown}); pick one")
    example = id_format.example if id_format is not None else ""
    raise InvalidIdentifier(kind, text, f"it should look like {example}")


def _inside(pattern: re.Pattern[str], text: str) -> set[str]:
    """The distinct identifiers of ``pattern`` standing alone (not inside a longer word or
    number) in a sentence of at most MAX_INPUT_CHARS."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_CHARS:
        return set()
    alone = re.compile(rf"(?<![A-Za-z0-9_])(?:{pattern.pattern})(?![A-Za-z0-9_])")
    return {match.group(0) for match in alone.finditer(text)}


def _accepts(parser: Callable[[str], str], example: str) -> bool:
    try:
        return parser(example) == example
    except InvalidIdentifier:
        return False


def as_date(value: object) -> date | None:
    """A date column's value as a date: some schemas keep dates in DATETIME columns."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


_PREFIX = re.compile(r"^(?:#|no\.?\s*|number\s*)", re.IGNORECASE)


def _cleaned(text: str) -> str:
    if not isinstance(text, str) or len(text) > MAX_ID_CHARS:
        return ""
    return _PREFIX.sub("", text.strip()).strip()


def _columns(concept: Concept, tables: Tables) -> ConceptColumns:
    table = tables.get(concept.table)
    assert table is not None  # check_mapping resolved it
    report = ConceptReport(concept.name, concept.table, {})
    columns: dict[str, ColumnElement[Any]] = {}
    joins: dict[str, tuple[Any, Any]] = {}
    for name, source in concept.fields.items():
        report.fields[name] = name
        resolved = resolve_source(source, table, tables, concept.field_lines[name], report)
        assert resolved is not None
        columns[name] = resolved[0]
        if resolved[1] is not None:
            joins[name] = resolved[1]
    status, status_join = None, None
    if concept.status is not None:
        status_source = concept.status.source or concept.status.when_set
        assert status_source is not None
        report.fields["status"] = "status"
        resolved = resolve_source(status_source, table, tables, concept.status.where, report)
        assert resolved is not None
        status, status_join = resolved
    return ConceptColumns(concept, table, columns, joins, status, status_join)


# Per engine (weakly: an engine disposed of takes its schemas with it), per mapping file.
_cache: weakref.WeakKeyDictionary[Engine, dict[str, MappedSchema]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _loaded(path: str, modified: float) -> MappingSpec:
    return load_mapping(Path(path))


def current_spec() -> MappingSpec:
    """The mapping in use, read from its file (again only when the file changes).

    What the conversation needs before any query: identity factors, identifier formats,
    concepts declared missing.

    Raises:
        MappingError: the mapping file is missing or wrong.
    """
    path = mapping_path()
    try:
        modified = path.stat().st_mtime
    except OSError:
        modified = -1.0  # load_mapping says the file is missing
    return _loaded(str(path.resolve()), modified)


def mapping_path(environ: Mapping[str, str] | None = None) -> Path:
    """The mapping in use: ``ERP_MAPPING`` (a relative path from the project root), else the
    demo schema's; from ``environ``, or the process's, read once (`forget_schemas` reads it
    again)."""
    return MAPPING.current() if environ is None else MAPPING.read(environ)


def schema_for(session: Session) -> MappedSchema:
    """The mapping in use resolved on the session's engine (built once per engine).

    Raises:
        MappingError: the mapping file is wrong, or does not resolve on this database.
    """
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    path = str(mapping_path())
    schema = _cache.get(engine, {}).get(path)
    if schema is not None:
        return schema
    with _lock:
        schema = _cache.get(engine, {}).get(path)
        if schema is None:
            schema = MappedSchema(load_mapping(Path(path)), engine)
            _cache.setdefault(engine, {})[path] = schema
    return schema


def forget_schemas() -> None:
    """Drop the built schemas and read ``ERP_MAPPING`` again (tests that switch mapping, or a
    re-seeded database)."""
    forget_current()
    with _lock:
        _cache.clear()

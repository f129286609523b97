"""The migrations as SQL text: every file parses, and the two flavors of a step agree.

The TimescaleDB flavor cannot run on these machines (no TimescaleDB package in Debian, no
Docker engine), so the PostgreSQL parser (libpg_query through pglast) checks it instead:
it must parse, create the same tables, columns and functions the plain flavor does (the
sink, the alert service and the Grafana panels query both through the same SQL), and keep
TimescaleDB's rule that every unique index of a hypertable contains its time column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pglast import ast, parse_sql
from pglast.enums import ConstrType, ObjectType

MIGRATIONS = Path(__file__).resolve().parents[2] / "deploy" / "migrations"
FLAVORED = sorted({p.name.split(".")[0] for p in MIGRATIONS.glob("*.plain.sql")})


@dataclass
class Shape:
    """What a migration file leaves behind, as far as queries can tell."""

    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    """relation → column → type ('' for a view's computed column)."""
    functions: dict[str, tuple[tuple[str, ...], str]] = field(default_factory=dict)
    """function → (argument types, return type)."""
    unique_keys: dict[str, list[set[str]]] = field(default_factory=dict)
    """table → column sets of its primary key and unique indexes."""
    hypertables: dict[str, str] = field(default_factory=dict)
    """table → time column (``create_hypertable`` calls)."""


def _names(nodes: tuple[ast.Node, ...] | None) -> str:
    return ".".join(node.sval for node in nodes or () if isinstance(node, ast.String))


def _type(type_name: ast.TypeName) -> str:
    name = _names(type_name.names).removeprefix("pg_catalog.")
    return name + ("[]" if type_name.arrayBounds else "")


def _create_table(stmt: ast.CreateStmt, shape: Shape) -> None:
    if stmt.partbound is not None:  # a partition: its parent carries the shape
        return
    table = stmt.relation.relname
    columns = shape.columns.setdefault(table, {})
    for element in stmt.tableElts or ():
        if isinstance(element, ast.ColumnDef):
            columns[element.colname] = _type(element.typeName)
            for constraint in element.constraints or ():
                if constraint.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE):
                    shape.unique_keys.setdefault(table, []).append({element.colname})
        elif isinstance(element, ast.Constraint) and element.contype in (
            ConstrType.CONSTR_PRIMARY,
            ConstrType.CONSTR_UNIQUE,
        ):
            keys = {key.sval for key in element.keys or ()}
            shape.unique_keys.setdefault(table, []).append(keys)


def _hypertable(call: ast.FuncCall, shape: Shape) -> None:
    table, dimension = call.args[0], call.args[1]
    assert isinstance(table, ast.A_Const) and isinstance(dimension, ast.FuncCall)
    time_column = dimension.args[0]
    assert isinstance(time_column, ast.A_Const)
    shape.hypertables[table.val.sval] = time_column.val.sval


def _calls(stmt: ast.SelectStmt) -> Iterator[ast.FuncCall]:
    for target in stmt.targetList or ():
        if isinstance(target, ast.ResTarget) and isinstance(target.val, ast.FuncCall):
            yield target.val


def _statement(stmt: ast.Node, shape: Shape) -> None:
    if isinstance(stmt, ast.CreateStmt):
        _create_table(stmt, shape)
    elif isinstance(stmt, ast.CreateTableAsStmt) and stmt.objtype == ObjectType.OBJECT_MATVIEW:
        query = stmt.query
        assert isinstance(query, ast.SelectStmt)
        view = shape.columns.setdefault(stmt.into.rel.relname, {})
        for target in query.targetList or ():
            val = target.val
            name = target.name or (_names(val.fields) if isinstance(val, ast.ColumnRef) else "")
            view[name] = ""
    elif isinstance(stmt, ast.AlterTableStmt):
        for command in stmt.cmds or ():
            if isinstance(command, ast.AlterTableCmd) and isinstance(command.def_, ast.ColumnDef):
                columns = shape.columns.setdefault(stmt.relation.relname, {})
                columns[command.def_.colname] = _type(command.def_.typeName)
    elif isinstance(stmt, ast.IndexStmt) and stmt.unique:
        keys = {param.name for param in stmt.indexParams or ()}
        shape.unique_keys.setdefault(stmt.relation.relname, []).append(keys)
    elif isinstance(stmt, ast.CreateFunctionStmt):
        arguments = tuple(_type(p.argType) for p in stmt.parameters or ())
        returns = _type(stmt.returnType) if stmt.returnType else ""
        shape.functions[_names(stmt.funcname)] = (arguments, returns)
    elif isinstance(stmt, ast.SelectStmt):
        for call in _calls(stmt):
            if _names(call.funcname) == "create_hypertable":
                _hypertable(call, shape)


def shape_of(path: Path) -> Shape:
    shape = Shape()
    for raw in parse_sql(path.read_text(encoding="utf-8")):
        _statement(raw.stmt, shape)
    return shape


def _comparable(columns: dict[str, str], other: dict[str, str]) -> dict[str, str]:
    """Column → type, with the type blanked where either side is a view's computed column."""
    return {name: (kind if other.get(name) else "") for name, kind in columns.items()}


@pytest.mark.parametrize("path", sorted(MIGRATIONS.glob("*.sql")), ids=lambda p: p.name)
def test_every_migration_parses(path: Path) -> None:
    assert parse_sql(path.read_text(encoding="utf-8")), f"{path.name} holds no statement"


def test_there_are_flavored_steps_to_compare() -> None:
    assert FLAVORED, "no NNN_name.plain.sql migration found"
    for step in FLAVORED:
        assert (MIGRATIONS / f"{step}.timescaledb.sql").exists(), (
            f"{step} has no TimescaleDB flavor"
        )


@pytest.mark.parametrize("step", FLAVORED)
def test_both_flavors_leave_the_same_relations_columns_and_functions(step: str) -> None:
    plain = shape_of(MIGRATIONS / f"{step}.plain.sql")
    timescale = shape_of(MIGRATIONS / f"{step}.timescaledb.sql")

    assert set(plain.columns) == set(timescale.columns)
    for relation, columns in plain.columns.items():
        other = timescale.columns[relation]
        assert _comparable(columns, other) == _comparable(other, columns), relation
    assert plain.functions == timescale.functions


@pytest.mark.parametrize("step", FLAVORED)
def test_hypertable_unique_keys_contain_the_time_column(step: str) -> None:
    timescale = shape_of(MIGRATIONS / f"{step}.timescaledb.sql")
    for table, time_column in timescale.hypertables.items():
        assert table in timescale.columns, f"{table} is not created in {step}"
        keys = timescale.unique_keys.get(table, [])
        assert keys, f"hypertable {table} has no primary key"
        for key in keys:
            assert time_column in key, f"{table}: unique key {sorted(key)} lacks {time_column}"


def test_the_timeseries_step_makes_the_three_tables_hypertables() -> None:
    timescale = shape_of(MIGRATIONS / "002_timeseries.timescaledb.sql")
    assert timescale.hypertables == {
        "measurements": "period_start",
        "aggregates": "period_start",
        "verdicts": "period_start",
    }

"""INFORMATION_SCHEMA.QUERY_HISTORY on the emulator, so tests can count statements by QUERY_TAG.

Every statement the emulator answers is recorded when it ends, with its QUERY_TAG: the one sent with
the statement (snowflake-sdk's `parameters: { QUERY_TAG }`), else the session's (`ALTER SESSION SET
QUERY_TAG`). `FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY(...))` and `QUERY_HISTORY_BY_SESSION(...)`
read them, newest first, with a subset of Snowflake's columns: QUERY_ID, QUERY_TEXT, QUERY_TAG,
DATABASE_NAME, SCHEMA_NAME, SESSION_ID, EXECUTION_STATUS (SUCCESS or FAILED_WITH_ERROR), ERROR_CODE,
START_TIME, END_TIME, TOTAL_ELAPSED_TIME (ms). The function's arguments (RESULT_LIMIT, time ranges)
are ignored: every statement of the emulator's life is there, the history query itself excepted
(it is recorded when it ends). QUERY_HISTORY_BY_SESSION lists the calling session's statements.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

COLUMNS = [
    ("QUERY_ID", "VARCHAR"),
    ("QUERY_TEXT", "VARCHAR"),
    ("QUERY_TAG", "VARCHAR"),
    ("DATABASE_NAME", "VARCHAR"),
    ("SCHEMA_NAME", "VARCHAR"),
    ("SESSION_ID", "BIGINT"),
    ("EXECUTION_STATUS", "VARCHAR"),
    ("ERROR_CODE", "VARCHAR"),
    ("START_TIME", "TIMESTAMPTZ"),
    ("END_TIME", "TIMESTAMPTZ"),
    ("TOTAL_ELAPSED_TIME", "BIGINT"),
]


@dataclass(frozen=True)
class Statement:
    query_id: str | None
    query_text: str
    query_tag: str
    database_name: str | None
    schema_name: str | None
    session_id: int
    execution_status: str
    error_code: str | None
    start_time: datetime.datetime
    end_time: datetime.datetime


_history: list[Statement] = []
# id of a fakesnow session -> its QUERY_TAG (ALTER SESSION SET QUERY_TAG)
_session_tags: dict[int, str] = {}


def session_tag(session: Any) -> str:
    return _session_tags.get(id(session), "") if session is not None else ""


def record(session: Any, request_json: dict[str, Any], body: dict[str, Any], started: datetime.datetime, tag_at_start: str) -> None:
    """Records a statement that ended, from its request and the answer sent for it; `tag_at_start`
    is the session's tag when it started (an ALTER SESSION SET QUERY_TAG carries the tag before it)."""
    parameters = request_json.get("parameters") or {}
    tag = parameters.get("QUERY_TAG") if isinstance(parameters, dict) else None
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    success = bool(body.get("success"))
    _history.append(
        Statement(
            query_id=data.get("queryId"),
            query_text=str(request_json.get("sqlText", "")),
            query_tag=str(tag) if tag is not None else tag_at_start,
            database_name=getattr(session, "database", None),
            schema_name=getattr(session, "schema", None),
            session_id=id(session) if session is not None else 0,
            execution_status="SUCCESS" if success else "FAILED_WITH_ERROR",
            error_code=None if success else body.get("code"),
            start_time=started,
            end_time=datetime.datetime.now(datetime.UTC),
        )
    )


def remember_session_tag(node: exp.Expr, cursor: Any) -> exp.Expr:
    """Keeps the session's QUERY_TAG from `ALTER SESSION SET QUERY_TAG = '...'` / `UNSET QUERY_TAG`."""
    if not (isinstance(node, exp.Alter) and node.args.get("kind") == "SESSION"):
        return node
    session = node.find(exp.AlterSession)
    unset = bool(session and session.args.get("unset"))
    for item in (session.args.get("expressions") if session else None) or []:
        target = item.this if isinstance(item, exp.SetItem) else item
        if isinstance(target, exp.EQ) and target.this.name.upper() == "QUERY_TAG" and isinstance(target.expression, exp.Literal):
            _session_tags[id(cursor._conn)] = target.expression.this  # noqa: SLF001
        elif unset and isinstance(target, (exp.Column, exp.Identifier, exp.Var)) and target.name.upper() == "QUERY_TAG":
            _session_tags.pop(id(cursor._conn), None)  # noqa: SLF001
    return node


def query_history_table(node: exp.Expr, cursor: Any) -> exp.Expr:
    """`TABLE(INFORMATION_SCHEMA.QUERY_HISTORY[_BY_SESSION](...))` as a VALUES subquery of the history."""
    if not isinstance(node, exp.TableFromRows):
        return node
    call = node.this.expression if isinstance(node.this, exp.Dot) else node.this
    name = str(call.this).upper() if isinstance(call, exp.Anonymous) else ""
    if name not in ("QUERY_HISTORY", "QUERY_HISTORY_BY_SESSION"):
        return node
    statements = list(reversed(_history))
    if name == "QUERY_HISTORY_BY_SESSION":
        statements = [s for s in statements if s.session_id == id(cursor._conn)]  # noqa: SLF001
    alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier("query_history"))
    return exp.Subquery(this=exp.maybe_parse(history_sql(statements), dialect="duckdb"), alias=alias)


def history_sql(statements: list[Statement]) -> str:
    names = ", ".join(name for name, _ in COLUMNS)
    casts = ", ".join(f"CAST({name} AS {kind}) AS {name}" for name, kind in COLUMNS)
    if not statements:
        nulls = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in COLUMNS)
        return f"SELECT {nulls} WHERE FALSE"
    rows = ", ".join(f"({', '.join(literal(v) for v in values(s))})" for s in statements)
    return f"SELECT {casts} FROM (VALUES {rows}) AS h({names})"


def values(s: Statement) -> list[Any]:
    elapsed = int((s.end_time - s.start_time).total_seconds() * 1000)
    return [s.query_id, s.query_text, s.query_tag, s.database_name, s.schema_name, s.session_id, s.execution_status, s.error_code, s.start_time, s.end_time, elapsed]


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.datetime):
        return exp.Literal.string(value.isoformat()).sql("duckdb")
    return exp.Literal.string(str(value)).sql("duckdb")

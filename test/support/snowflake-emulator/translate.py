"""Snowflake constructs fakesnow hands to DuckDB unchanged, rewritten on sqlglot's tree into DuckDB's.

Each translation is a sqlglot transform (a function of one node) applied before fakesnow's own, so
fakesnow's rewrites (identifiers, types, functions) still run on the result.

- `ASOF JOIN r MATCH_CONDITION(l.t >= r.t) [ON l.k = r.k ...]` becomes
  `ASOF LEFT JOIN r ON l.k = r.k ... AND l.t >= r.t`: Snowflake's ASOF JOIN keeps left rows without a
  match (their right columns NULL), which is DuckDB's ASOF LEFT JOIN; DuckDB takes the one inequality
  in ON beside the equalities. Ties in the match column pick one right row in both engines, and which
  one is unspecified in both; tests keep the right side unique on (keys, time).
- `ALTER SESSION SET` of the parameters our engine sets on every session succeeds without effect
  where the emulator already behaves so: TIMEZONE (UTC only: DuckDB here runs in UTC, any other zone
  is refused), QUERY_TAG (accepted, not recorded), STATEMENT_TIMEOUT_IN_SECONDS (accepted, not
  enforced). fakesnow refuses them all as not implemented.
- Constraint properties Snowflake records and DuckDB does not parse (`PRIMARY KEY (k, t) RELY`,
  NORELY, NOT ENFORCED, VALIDATE, NOVALIDATE) are dropped; the key itself stays, and DuckDB enforces
  it where Snowflake would not (EMULATOR_CANNOT.unenforcedPrimaryKeys, .relyKeys).

- `PARSE_JSON('')` (and of blanks) is NULL in Snowflake, an error in DuckDB: the argument is read
  through NULLIF(TRIM(...), '') (blanks around JSON text mean nothing).
- Text in double quotes in a TO_VARCHAR/TO_CHAR date format is literal in Snowflake
  (`'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"'` gives `2024-03-10T02:30:00.123Z`); sqlglot turns the format into
  strftime's but keeps the quotes of `"Z"`, so the emulator removes them (a `%` in quoted text is
  escaped as strftime's `%%`).

Two fixes are not on the tree:

- A bind placeholder cast with `::` (`?::timestamp_ntz`) is read by sqlglot's tokenizer as one `?::`
  token (a try-cast operator of other dialects) and fails to parse; `? ::timestamp_ntz` parses as the
  cast Snowflake means. The text is rewritten token by token before parsing, so `?::` inside a string
  or comment is left alone.
- `COPY INTO t FROM @stage/path/ FILES = ('a.parquet')` on an internal stage: fakesnow keeps internal
  stages in a local folder and refuses the folder as "invalid URL prefix" when FILES names files in
  it; the emulator joins folder and file names as fakesnow does for URLs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import fakesnow.copy_into
import fakesnow.cursor
import fakesnow.server
import snowflake.connector.errors
from fakesnow.cursor import FakeSnowflakeCursor
from fakesnow.transforms import SUCCESS_NOP
from cancellation import system_cancel_query
from query_history import query_history_table, remember_session_tag
from staged_reads import remove_from_stage, select_from_stage
from sqlglot import exp
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.tokens import TokenType


def asof_match_condition(node: exp.Expr) -> exp.Expr:
    if not isinstance(node, exp.Join):
        return node
    match = node.args.get("match_condition")
    if match is None:
        return node
    on = node.args.get("on")
    node.set("match_condition", None)
    node.set("side", "LEFT")
    node.set("on", exp.and_(on, match) if on is not None else match)
    return node


CONSTRAINT_PROPERTIES = frozenset({"RELY", "NORELY", "ENFORCED", "NOT ENFORCED", "VALIDATE", "NOVALIDATE"})


def constraint_properties_dropped(node: exp.Expr) -> exp.Expr:
    options = node.args.get("options")
    if isinstance(node, (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint, exp.ForeignKey)):
        if isinstance(options, list):
            node.set("options", [o for o in options if not (isinstance(o, str) and o.upper() in CONSTRAINT_PROPERTIES)] or None)
        # `b int unique rely`: sqlglot reads RELY as the name of the unique index.
        name = node.args.get("this")
        if isinstance(node, exp.UniqueColumnConstraint) and isinstance(name, exp.Identifier) and name.name.upper() in CONSTRAINT_PROPERTIES:
            node.set("this", None)
    return node


def parse_json_of_blank(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.ParseJSON) and not isinstance(node.this, exp.Nullif):
        node.set("this", exp.Nullif(this=exp.Trim(this=node.this), expression=exp.Literal.string("")))
    return node


QUOTED_FORMAT_TEXT = re.compile(r'"([^"]*)"')


def quoted_format_text(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.TimeToStr):
        fmt = node.args.get("format")
        if isinstance(fmt, exp.Literal) and fmt.is_string and '"' in fmt.this:
            node.set("format", exp.Literal.string(QUOTED_FORMAT_TEXT.sub(lambda m: m.group(1).replace("%", "%%"), fmt.this)))
    return node


# Session parameters accepted without effect, each with the values accepted (None: any).
NO_EFFECT_SESSION_PARAMETERS: dict[str, frozenset[str] | None] = {
    "TIMEZONE": frozenset({"UTC", "ETC/UTC"}),
    "QUERY_TAG": None,
    "STATEMENT_TIMEOUT_IN_SECONDS": None,
}


def alter_session_no_effect(node: exp.Expr) -> exp.Expr:
    if not (isinstance(node, exp.Alter) and node.args.get("kind") == "SESSION"):
        return node
    session = node.find(exp.AlterSession)
    items = (session.args.get("expressions") if session else None) or []
    settings: list[tuple[str, str | None]] = []
    for item in items:
        target = item.this if isinstance(item, exp.SetItem) else item
        if isinstance(target, exp.EQ):
            name, value = target.this, target.expression
            settings.append((name.name.upper(), value.name if isinstance(value, exp.Literal) else value.sql()))
        elif isinstance(target, (exp.Column, exp.Identifier, exp.Var)):  # UNSET name
            settings.append((target.name.upper(), None))
        else:
            return node
    if not settings or any(name not in NO_EFFECT_SESSION_PARAMETERS for name, _ in settings):
        return node  # fakesnow's own handling (AUTOCOMMIT, ...) or its "not implemented"
    for name, value in settings:
        accepted = NO_EFFECT_SESSION_PARAMETERS[name]
        if accepted is not None and value is not None and value.upper() not in accepted:
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"Snowflake emulator: {name} = '{value}' is not supported; it accepts {', '.join(sorted(accepted))} only",
                errno=9999,
                sqlstate="0A000",
            )
    return SUCCESS_NOP.copy()


TRANSLATIONS: list[Callable[[exp.Expr], exp.Expr]] = [asof_match_condition, alter_session_no_effect, constraint_properties_dropped, quoted_format_text, parse_json_of_blank]

def split_placeholder_casts(sql: str) -> str:
    """`?::type` as `? ::type`, for sqlglot; anything it cannot tokenize is left to fail as before."""
    if "?::" not in sql:
        return sql
    try:
        tokens = Snowflake().tokenize(sql)
    except Exception:  # noqa: BLE001 - parse_one reports the syntax error in Snowflake's form
        return sql
    for token in reversed(tokens):
        if token.token_type == TokenType.QDCOLON:
            sql = f"{sql[: token.start]}? ::{sql[token.end + 1 :]}"
    return sql


_installed = False


def install_translations() -> None:
    """Runs TRANSLATIONS ahead of fakesnow's transforms on every statement; idempotent."""
    global _installed
    if _installed:
        return
    fakesnow_transform = FakeSnowflakeCursor._transform  # noqa: SLF001

    def transform(self: FakeSnowflakeCursor, expression: exp.Expr, params):  # noqa: ANN001, ANN202
        expression = expression.transform(lambda node: remember_session_tag(node, self), copy=False)
        for translation in TRANSLATIONS:
            expression = expression.transform(translation, copy=False)
        # These need the session (its database, schema, stages, statements): staged_reads.py, query_history.py.
        for with_session in (select_from_stage, remove_from_stage, query_history_table):
            expression = expression.transform(lambda node, fn=with_session: fn(node, self), copy=False)
        expression = expression.transform(lambda node: system_cancel_query(node, params), copy=False)
        return fakesnow_transform(self, expression, params)

    FakeSnowflakeCursor._transform = transform  # noqa: SLF001

    # Both modules imported parse_one by name, so each gets the wrapped one.
    fakesnow_parse_one = fakesnow.cursor.parse_one

    def parse_one(command: str) -> exp.Expr:
        return fakesnow_parse_one(split_placeholder_casts(command))

    fakesnow.cursor.parse_one = parse_one
    fakesnow.server.parse_one = parse_one

    fakesnow_source_urls = fakesnow.copy_into._source_urls  # noqa: SLF001

    def source_urls(source: str, files: list[str]) -> list[str]:
        if os.path.isabs(source):  # an internal stage's local folder
            return [os.path.join(source, file) for file in files] or [source]
        return fakesnow_source_urls(source, files)

    fakesnow.copy_into._source_urls = source_urls  # noqa: SLF001
    _installed = True

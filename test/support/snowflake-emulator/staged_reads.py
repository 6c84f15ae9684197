"""Reading and removing files in internal stages, which fakesnow 0.12.1 does not do.

fakesnow keeps an internal stage as a local folder (PUT writes there, LIST and COPY INTO read it).
The emulator reads it the way Snowflake's staged queries do:

- `SELECT [s.]$1:"col"::type AS "col", ... FROM @stage/path/ [(FILE_FORMAT => 'fmt')] [AS s]` reads every
  file under the path with DuckDB (`read_parquet`, or `read_json` for TYPE = JSON, one object per
  line, gzip or not), each `$1:"col"` being the file's column (Parquet) or key (JSON) of that name.
  No files under the path is an empty result, as on Snowflake. Only `$1:"key"` references are
  emulated (not `$1` whole, `$2`, METADATA$ columns or CSV): anything else fails naming itself.
- `REMOVE @stage/path/` deletes the files under the path and answers Snowflake's (name, result) rows.

External stages (a URL) are not emulated: both fail naming the stage.
"""

from __future__ import annotations

import os
from glob import escape as glob_escape
from typing import Any

import snowflake.connector.errors
from fakesnow.copy_into import stage_url_from_var
from fakesnow.transforms import stage
from fakesnow.transforms.file_format import lookup_file_format
from sqlglot import exp

STAGED_ALIAS = "_fs_staged"


def unsupported(message: str) -> snowflake.connector.errors.ProgrammingError:
    return snowflake.connector.errors.ProgrammingError(msg=f"Snowflake emulator: {message}", errno=9999, sqlstate="0A000")


def internal_stage_folder(location: str, cursor: Any) -> str:
    """The local folder (or file) of `@stage/path`, for an internal stage; fails for an external one."""
    conn = cursor._conn  # noqa: SLF001
    url = stage_url_from_var(location, cursor._duck_conn, conn.database, conn.schema, conn.table_stages, exp.Table())  # noqa: SLF001
    if not stage.is_internal(url):
        raise unsupported(f"@{location} is an external stage ({url}); the emulator has internal stages only")
    return url


def staged_files(folder: str, cursor: Any) -> list[str]:
    cursor._duck_conn.execute(stage.internal_files_sql(folder))  # noqa: SLF001
    return sorted(row[0] for row in cursor._duck_conn.fetchall())  # noqa: SLF001


def select_from_stage(node: exp.Expr, cursor: Any) -> exp.Expr:
    if not isinstance(node, exp.Select):
        return node
    source = node.args.get("from_")
    table = source.this if isinstance(source, exp.From) else None
    if not (isinstance(table, exp.Table) and isinstance(table.this, exp.Var) and table.this.name.startswith("@")):
        return node
    location = table.this.name[1:]
    alias = table.alias or STAGED_ALIAS

    # Each $1:"key" becomes the column "key" of the files read; any other use of $n is not emulated.
    keys: list[str] = []
    for extract in list(node.find_all(exp.JSONExtract)):
        parameter = extract.this
        if isinstance(parameter, exp.Column) and isinstance(parameter.this, exp.Parameter):  # s.$1:"key"
            parameter = parameter.this
        path = extract.expression
        if not isinstance(parameter, exp.Parameter):
            continue
        steps = path.expressions if isinstance(path, exp.JSONPath) else []
        if parameter.name != "1" or len(steps) != 2 or not isinstance(steps[1], exp.JSONPathKey):
            raise unsupported(f"reading {extract.sql('snowflake')} from a stage (only $1:\"key\" is emulated)")
        key = str(steps[1].this)
        keys.append(key)
        extract.replace(exp.column(exp.to_identifier(key, quoted=True), table=exp.to_identifier(alias)))
    if any(isinstance(p, exp.Parameter) for p in node.find_all(exp.Parameter)):
        raise unsupported(f"reading @{location} other than by $1:\"key\"")

    fmt = table.args.get("format")
    options = lookup_file_format(cursor._duck_conn, fmt.name, cursor._conn.database, cursor._conn.schema) if fmt else {}  # noqa: SLF001
    kind = str(options.get("TYPE", "CSV")).upper()
    if kind not in ("PARQUET", "JSON"):
        raise unsupported(f"reading staged {kind} files with SELECT (Parquet and JSON are emulated)")

    files = staged_files(internal_stage_folder(location, cursor), cursor)
    if not files:
        # Snowflake reads nothing from an empty path; DuckDB's readers fail on no files.
        empty = exp.select(*[exp.alias_(exp.null(), exp.to_identifier(k, quoted=True)) for k in dict.fromkeys(keys)] or ["NULL AS _none"]).where(exp.false())
        table.replace(exp.Subquery(this=empty, alias=exp.TableAlias(this=exp.to_identifier(alias))))
        return node
    paths = exp.array(*[exp.Literal.string(glob_escape(f)) for f in files])
    if kind == "PARQUET":
        reader = exp.func("read_parquet", paths, exp.EQ(this=exp.var("union_by_name"), expression=exp.true()))
    else:
        reader = exp.func("read_json", paths, exp.EQ(this=exp.var("format"), expression=exp.Literal.string("newline_delimited")))
    table.replace(exp.Table(this=reader, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return node


def remove_from_stage(node: exp.Expr, cursor: Any) -> exp.Expr:
    if not (isinstance(node, exp.Command) and str(node.this).upper() == "REMOVE"):
        return node
    argument = node.expression.name.strip() if node.expression else ""
    location = argument.split()[0] if argument else ""
    if not location.startswith("@") or len(argument.split()) > 1:
        raise unsupported(f"REMOVE {argument} (only REMOVE @stage[/path] is emulated, without PATTERN)")
    files = staged_files(internal_stage_folder(location[1:], cursor), cursor)
    names = [stage.internal_file_name(f) for f in files]
    for file in files:
        os.remove(file)
    # Quoted: Snowflake's REMOVE answers lower-case column names, and fakesnow upper-cases unquoted ones.
    if not names:
        return exp.maybe_parse('SELECT CAST(NULL AS VARCHAR) AS "name", CAST(NULL AS VARCHAR) AS "result" WHERE FALSE', dialect="duckdb")
    rows = " UNION ALL ".join(f"SELECT {exp.Literal.string(n).sql('duckdb')} AS \"name\", 'removed' AS \"result\"" for n in names)
    return exp.maybe_parse(f"SELECT * FROM ({rows})", dialect="duckdb")

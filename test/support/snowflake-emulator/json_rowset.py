"""fakesnow's Arrow rowsets, rewritten in Snowflake's JSON result format.

In the JSON format every value is a string (or null), encoded by the column's `rowtype` type; these
are the encodings snowflake-sdk 3.4.1 decodes (lib/connection/result/column.js):

- fixed: the decimal digits, with exactly `scale` digits after the point ("12.50").
- real: a float that JavaScript's Number() and Python's float() both read ("0.1", "Infinity", "NaN").
- boolean: "1" or "0".
- text: the text. variant/object/array: the value as JSON text.
- date: days since 1970-01-01 ("19723").
- time: seconds since midnight with `scale` fraction digits ("3723.000000000").
- timestamp_ntz / timestamp_ltz: epoch seconds with `scale` fraction digits ("-1.500000000").
- timestamp_tz: the same, a space, then the offset in minutes plus 1440 ("0.000000000 1440" is UTC);
  the driver reads this form when the result `version` is not 0, so the result says version 1.
- binary: upper-case hex.

fakesnow's Arrow (fakesnow/arrow.py `to_sf`) carries timestamps as structs of (epoch seconds,
fraction nanoseconds[, timezone index]) and times as int64 nanoseconds; everything else as DuckDB
gave it.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
from decimal import Decimal
from collections.abc import Callable
from typing import Any

import pyarrow as pa

NANOS = 1_000_000_000
EPOCH_DATE = datetime.date(1970, 1, 1)

# Snowflake's own defaults for what the driver formats values with; fakesnow sends only TIMEZONE,
# and snowflake-sdk refuses a binary column without BINARY_OUTPUT_FORMAT.
DEFAULT_PARAMETERS: dict[str, Any] = {
    "TIMEZONE": "Etc/UTC",
    "BINARY_OUTPUT_FORMAT": "HEX",
    "DATE_OUTPUT_FORMAT": "YYYY-MM-DD",
    "TIME_OUTPUT_FORMAT": "HH24:MI:SS",
    "TIMESTAMP_OUTPUT_FORMAT": "YYYY-MM-DD HH24:MI:SS.FF3 TZHTZM",
    "TIMESTAMP_NTZ_OUTPUT_FORMAT": "YYYY-MM-DD HH24:MI:SS.FF3",
    "TIMESTAMP_LTZ_OUTPUT_FORMAT": "",
    "TIMESTAMP_TZ_OUTPUT_FORMAT": "",
    "CLIENT_RESULT_CHUNK_SIZE": 160,
}


def nested_types_rowtype(describe_as_rowtype: Callable[[list], list[dict[str, Any]]]) -> Callable[[list], list[dict[str, Any]]]:
    """fakesnow's rowtype for a DuckDB result, with nested types it has no name for: a list (what
    ARRAY_CONSTRUCT and ARRAY_AGG give) is an array, a STRUCT or MAP (OBJECT_CONSTRUCT) an object."""

    def describe(describe_results: list) -> list[dict[str, Any]]:
        nested = {}
        plain = []
        for index, row in enumerate(describe_results):
            column_type = str(row[1])
            if column_type.endswith("]"):
                nested[index] = "array"
            elif column_type.startswith(("STRUCT", "MAP")):
                nested[index] = "object"
            plain.append((row[0], "JSON", *row[2:]) if index in nested else row)
        rowtype = describe_as_rowtype(plain)
        for index, kind in nested.items():
            rowtype[index]["type"] = kind
        return rowtype

    return describe


def to_json_result(data: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a query response, with its rowset in the JSON format and the parameters the driver needs."""
    rowtype: list[dict[str, Any]] = data["rowtype"]
    if data.get("queryResultFormat") == "arrow":
        rows = arrow_rows(data.get("rowsetBase64") or "", rowtype)
    else:
        # fakesnow already answers DML with JSON (affected-row counts as strings).
        rows = data.get("rowset") or []
    result = {key: value for key, value in data.items() if key != "rowsetBase64"}
    given = {p["name"]: p["value"] for p in data.get("parameters") or []}
    parameters = {**DEFAULT_PARAMETERS, **given}
    result.update(
        queryResultFormat="json",
        rowset=rows,
        total=len(rows) if data.get("queryResultFormat") == "arrow" else data.get("total", len(rows)),
        returned=len(rows),
        version=1,
        parameters=[{"name": name, "value": value} for name, value in parameters.items()],
    )
    return result


def arrow_rows(rowset_base64: str, rowtype: list[dict[str, Any]]) -> list[list[str | None]]:
    if not rowset_base64:
        return []
    table = pa.ipc.open_stream(base64.b64decode(rowset_base64)).read_all()
    if table.num_columns != len(rowtype):
        raise ValueError(f"the Arrow rowset has {table.num_columns} columns but the rowtype {len(rowtype)}")
    columns = [
        [encode(value, column) for value in table.column(index).to_pylist()]
        for index, column in enumerate(rowtype)
    ]
    return [list(row) for row in zip(*columns)] if columns else [[] for _ in range(table.num_rows)]


def encode(value: Any, column: dict[str, Any]) -> str | None:
    """One value as the string Snowflake's JSON format carries for the column's type."""
    if value is None:
        return None
    kind = column["type"]
    scale = column.get("scale") or 0
    if kind == "fixed":
        return fixed(value, scale)
    if kind == "real":
        return real(float(value))
    if kind == "boolean":
        return "1" if value else "0"
    if kind == "date":
        # date32 arrives as datetime.date
        return str((value - EPOCH_DATE).days)
    if kind == "time":
        return seconds_with_fraction(int(value), scale)
    if kind.startswith("timestamp") and value.get("epoch") is None:
        # fakesnow's struct for a NULL timestamp is a struct of NULLs, not a NULL struct.
        return None
    if kind in ("timestamp_ntz", "timestamp_ltz"):
        return seconds_with_fraction(int(value["epoch"]) * NANOS + int(value["fraction"]), scale)
    if kind == "timestamp_tz":
        nanos = int(value["epoch"]) * NANOS + int(value["fraction"])
        return f"{seconds_with_fraction(nanos, scale)} {int(value.get('timezone', 1440))}"
    if kind == "binary":
        return bytes(value).hex().upper()
    if kind in ("variant", "object", "array"):
        # DuckDB's JSON columns reach Arrow as their JSON text already; lists and structs as Python values.
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
    if kind == "text":
        return value if isinstance(value, str) else str(value)
    raise ValueError(f"no JSON encoding for rowtype type {kind!r} (column {column.get('name')!r})")


def fixed(value: Any, scale: int) -> str:
    if isinstance(value, Decimal):
        return f"{value:.{scale}f}"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value) if scale == 0 else f"{Decimal(value):.{scale}f}"
    return f"{Decimal(str(value)):.{scale}f}"


def real(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def seconds_with_fraction(nanos: int, scale: int) -> str:
    """Nanoseconds as signed seconds with `scale` fraction digits, truncated: -1500000000 -> "-1.500000000"."""
    sign = "-" if nanos < 0 else ""
    whole, fraction = divmod(abs(nanos), NANOS)
    if scale == 0:
        return f"{sign}{whole}"
    digits = f"{fraction:09d}"[:scale] if scale <= 9 else f"{fraction:09d}" + "0" * (scale - 9)
    return f"{sign}{whole}.{digits}"


"""Cancelling a running statement, which fakesnow 0.12.1 acknowledges without doing.

snowflake-sdk cancels with `POST /queries/v1/abort-request {requestId}` (the id of the request that
runs the statement) or, once it knows the query id, `POST /queries/<query id>/abort-request`. The
emulator keeps each running statement's session, interrupts DuckDB on that session's connection, and
the statement fails as Snowflake's does: code 000604, "SQL execution canceled". A statement that is
not running answers 000605, as Snowflake does. `SELECT SYSTEM$CANCEL_QUERY('<query id>')` (from any
session) cancels a statement started with asyncExec the same way and answers Snowflake's text.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sqlglot import exp
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

CANCELED = {"success": False, "code": "000604", "message": "SQL execution canceled", "data": {"errorCode": "000604", "sqlState": "57014"}}
NOT_EXECUTING = {"success": False, "code": "000605", "message": "Identified SQL statement is not currently executing.", "data": None}

# request id -> the fakesnow session (FakeSnowflakeConnection) running it
_running: dict[str, Any] = {}
# async query id -> the request id that started it
_request_of_query: dict[str, str] = {}
_canceled: set[str] = set()


def started(request_id: str | None, session: Any) -> None:
    if request_id and session is not None:
        _running[request_id] = session


def finished(request_id: str | None) -> bool:
    """Forgets a statement that ended; True when it ended because it was cancelled."""
    if not request_id:
        return False
    _running.pop(request_id, None)
    if request_id in _canceled:
        _canceled.discard(request_id)
        return True
    return False


def is_async(query_id: str, request_id: str | None) -> None:
    if request_id:
        _request_of_query[query_id] = request_id


def cancel(request_id: str | None) -> dict[str, Any]:
    session = _running.get(request_id) if request_id else None
    if session is None:
        return NOT_EXECUTING
    _canceled.add(request_id)  # type: ignore[arg-type]
    threading.Thread(target=_interrupt_until_finished, args=(request_id, session), daemon=True).start()
    return {"success": True, "data": None, "code": None, "message": None}


def _interrupt_until_finished(request_id: str, session: Any) -> None:
    # DuckDB's interrupt stops the query running on the connection now and is lost when none is (the
    # statement may still be in fakesnow's parsing): so again every 50 ms until the statement ends.
    while _running.get(request_id) is session:
        session._duck_conn.interrupt()  # noqa: SLF001
        time.sleep(0.05)


async def abort_request(request: Request) -> Response:
    """`POST /queries/v1/abort-request` with the running request's id in the body."""
    body = await request.body()
    request_id = (json.loads(body) if body else {}).get("requestId")
    return JSONResponse(cancel(request_id))


async def abort_query(request: Request) -> Response:
    """`POST /queries/<query id>/abort-request`, for a statement started with asyncExec."""
    return JSONResponse(cancel(_request_of_query.get(request.path_params["sfqid"])))


def system_cancel_query(node: exp.Expr, params: Any) -> exp.Expr:
    """`SYSTEM$CANCEL_QUERY(<id>)` (a literal, or the one bind value) as the text Snowflake answers."""
    if not (isinstance(node, exp.Anonymous) and str(node.this).upper() == "SYSTEM$CANCEL_QUERY"):
        return node
    argument = node.expressions[0] if node.expressions else None
    if isinstance(argument, exp.Placeholder) and isinstance(params, (list, tuple)) and len(params) == 1:
        query_id = str(params[0])
    elif isinstance(argument, exp.Literal) and argument.is_string:
        query_id = argument.this
    else:
        return node  # left to fail as fakesnow fails it
    outcome = cancel(_request_of_query.get(query_id))
    text = f"query [{query_id}] terminated." if outcome.get("success") else NOT_EXECUTING["message"]
    return exp.Literal.string(text)

"""Statements sent with `asyncExec: true`, run in the background as Snowflake runs them.

Snowflake answers such a request at once with code 333334 and a query id; the client asks
`GET /monitoring/queries/<id>` for the status (RUNNING, then SUCCESS or FAILED_WITH_ERROR) and
`GET /queries/<id>/result` for the result. fakesnow runs every statement before it answers, so
the adapter keeps the running statement as an asyncio task under an id of its own.

Not emulated: cancelling a running statement (fakesnow's abort-request succeeds without stopping
it), and statements of one session running side by side (they share one DuckDB cursor).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

QUERY_IN_PROGRESS_ASYNC = "333334"
# Snowflake's code for a query id it does not know.
QUERY_NOT_FOUND = "000709"

# query id -> the task that runs it, giving (HTTP status, body). Kept for the emulator's lifetime:
# a test run sends a bounded number of statements.
_tasks: dict[str, asyncio.Task[tuple[int, dict[str, Any]]]] = {}


def submit(statement: Callable[[str], Awaitable[tuple[int, dict[str, Any]]]]) -> dict[str, Any]:
    """Starts the statement (given the query id it runs under) and returns Snowflake's answer to an async request."""
    query_id = str(uuid.uuid4())
    _tasks[query_id] = asyncio.ensure_future(statement(query_id))
    return {
        "code": QUERY_IN_PROGRESS_ASYNC,
        "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
        "data": {"queryId": query_id, "getResultUrl": f"/queries/{query_id}/result"},
        "success": True,
    }


def status_of(query_id: str) -> dict[str, Any] | None:
    """The monitoring entry of an async statement, or None when the id is not one."""
    task = _tasks.get(query_id)
    if task is None:
        return None
    if not task.done():
        return {"id": query_id, "status": "RUNNING"}
    status, body = _outcome(task)
    if status == 200 and body.get("success"):
        return {"id": query_id, "status": "SUCCESS"}
    return {"id": query_id, "status": "FAILED_WITH_ERROR", "errorCode": body.get("code"), "errorMessage": body.get("message")}


def monitoring_query(fakesnow_monitoring: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
    """`GET /monitoring/queries/<id>`: an async statement's status, else fakesnow's answer."""

    async def handle(request: Request) -> Response:
        entry = status_of(request.path_params["sfqid"])
        if entry is None:
            return fakesnow_monitoring(request)
        body: dict[str, Any] = {"data": {"queries": [entry]}, "success": True}
        if entry["status"] == "FAILED_WITH_ERROR":
            # snowflake-sdk appends the entry's errorMessage to this message: the code alone here.
            body.update(code=entry["errorCode"], message="")
        return JSONResponse(body)

    return handle


async def query_result(request: Request) -> Response:
    """`GET /queries/<id>/result`: waits for the statement and answers as its request would have."""
    query_id = request.path_params["sfqid"]
    task = _tasks.get(query_id)
    if task is None:
        message = f"Statement {query_id} not found (the emulator keeps results of async statements only)"
        return JSONResponse({"data": {"errorCode": QUERY_NOT_FOUND, "sqlState": "02000"}, "code": QUERY_NOT_FOUND, "message": message, "success": False})
    await asyncio.wait([task])
    status, body = _outcome(task)
    if isinstance(body.get("data"), dict):
        body = {**body, "data": {**body["data"], "queryId": query_id}}
    return JSONResponse(body, status_code=status)


def _outcome(task: asyncio.Task[tuple[int, dict[str, Any]]]) -> tuple[int, dict[str, Any]]:
    if task.cancelled():
        return 200, {"success": False, "code": "000604", "message": "SQL execution canceled", "data": {"errorCode": "000604", "sqlState": "57014"}}
    if (error := task.exception()) is not None:
        message = f"Snowflake emulator: the statement failed: {error!r}"
        return 200, {"success": False, "code": "261000", "message": message, "data": {"errorCode": "261000", "sqlState": "XX000"}}
    return task.result()

"""Snowflake emulator for the tests: fakesnow's server, answering in the JSON result format.

fakesnow (https://github.com/tekumara/fakesnow) speaks Snowflake's REST protocol over DuckDB but
answers queries with Arrow rowsets, and the Node driver (snowflake-sdk 3.x) reads only JSON ones.
This adapter serves fakesnow's own app with two changes and nothing else:

1. Query responses are rewritten from Arrow to Snowflake's JSON result format (`json_rowset.py`),
   with the session parameters the driver reads its output formats from.
2. Statements sent with `asyncExec` run in the background: the request returns at once (code
   333334), `/monitoring/queries/<id>` says RUNNING until the statement ends, and
   `/queries/<id>/result` gives its result (`async_queries.py`). fakesnow runs them synchronously.
   Cancelling a running statement interrupts it (`cancellation.py`); fakesnow only acknowledged.
3. SQL that fakesnow passes to DuckDB unchanged and DuckDB cannot run is translated first
   (`translate.py`): today `ASOF JOIN ... MATCH_CONDITION`.

Anything else fakesnow cannot do stays an error; test/setup/snowflake-emulator.ts lists it.

Usage: python adapter.py [--host 127.0.0.1] [--port 0]
Prints `LISTENING <port>` on stdout once the socket is bound, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import logging
import os
import socket
import sys
import warnings
from decimal import Decimal

import fakesnow.server as fakesnow_server  # noqa: E402
import uvicorn  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# fakesnow logs every login and SQL error at INFO, and DuckDB warns of an Arrow copy per query: the
# tests read errors from the driver, so the emulator's output keeps warnings and worse only.
fakesnow_server.logger.setLevel(logging.WARNING)
# sqlglot warns of every statement it parses as a plain command (REMOVE, GET, ...): not news here.
logging.getLogger("sqlglot").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")

import async_queries  # noqa: E402
import cancellation  # noqa: E402
import query_history  # noqa: E402
from json_rowset import nested_types_rowtype, to_json_result  # noqa: E402
from translate import install_translations  # noqa: E402

QUERY_PATH = "/queries/v1/query-request"
ABORT_PATH = "/queries/v1/abort-request"


# The code fakesnow gives statements it fails on unexpectedly (its "internal error").
INTERNAL_ERROR_CODE = "261000"


async def run_query(request: Request, query_id: str | None = None) -> tuple[int, dict]:
    """fakesnow's query handler, its Arrow answer turned into a JSON one, or Snowflake's cancel error
    when it was cancelled while running: (HTTP status, body). Recorded in the query history, under
    `query_id` when the statement runs asynchronously under an id of the emulator's."""
    request_id = request.query_params.get("requestId")
    session = session_of(request)
    started = datetime.datetime.now(datetime.UTC)
    tag_at_start = query_history.session_tag(session)
    cancellation.started(request_id, session)
    try:
        status, body = await run_fakesnow_query(request)
    finally:
        cancelled = cancellation.finished(request_id)
    if cancelled:
        status, body = 200, cancellation.CANCELED
    if query_id is not None and isinstance(body.get("data"), dict):
        body = {**body, "data": {**body["data"], "queryId": query_id}}
    query_history.record(session, await request_json(request), body, started, tag_at_start)
    return status, body


def session_of(request: Request):  # noqa: ANN201
    try:
        return fakesnow_server.to_conn(fakesnow_server.to_token(request))
    except Exception:  # noqa: BLE001 - fakesnow's handler answers a bad token itself
        return None


async def run_fakesnow_query(request: Request) -> tuple[int, dict]:
    try:
        response = await fakesnow_server.query_request(request)
    except Exception as error:  # noqa: BLE001 - fakesnow failed outside its own handling (bindings, ...)
        logging.getLogger("snowflake-emulator").exception("fakesnow failed on a query request")
        return 200, sql_error_body(INTERNAL_ERROR_CODE, f"Snowflake emulator: fakesnow failed: {error!r}")
    body = json.loads(bytes(response.body))
    data = body.get("data")
    if response.status_code >= 500:
        # fakesnow answers a statement it cannot run (an unsupported construct, a bug) with HTTP 500,
        # which the driver retries for minutes as a transient outage. It is not one: fail the
        # statement now, as Snowflake fails a statement, with fakesnow's message.
        return 200, sql_error_body(body.get("code") or INTERNAL_ERROR_CODE, body.get("message") or "fakesnow failed")
    if body.get("success") and isinstance(data, dict) and "rowtype" in data:
        try:
            body["data"] = to_json_result(data)
        except Exception as error:  # noqa: BLE001 - any failure here is the emulator's, named as such
            logging.getLogger("snowflake-emulator").exception("cannot encode a result as JSON")
            return 200, sql_error_body(INTERNAL_ERROR_CODE, f"Snowflake emulator: cannot encode the result as JSON: {error!r}")
    return response.status_code, body


async def query_request(request: Request) -> Response:
    if (await request_json(request)).get("asyncExec"):
        answer = async_queries.submit(lambda query_id: run_query(request, query_id))
        cancellation.is_async(answer["data"]["queryId"], request.query_params.get("requestId"))
        return JSONResponse(answer)
    status, body = await run_query(request)
    return JSONResponse(body, status_code=status)


async def request_json(request: Request) -> dict:
    # Starlette keeps the body read here for fakesnow's handler to read again.
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def sql_error_body(code: str, message: str) -> dict:
    """A failed statement in Snowflake's shape (sent with HTTP 200): success false, code and SQL state."""
    return {"data": {"errorCode": code, "sqlState": "XX000"}, "code": code, "message": message, "success": False}


def gcs_stage_info_for_node(gcs_stage_info):  # noqa: ANN001, ANN201
    """fakesnow's PUT answer (a GCS stage with a presigned URL back to this server), with the fields
    snowflake-sdk reads before it uploads (`region`, `endPoint`, ...): the Python connector does
    without them, the Node one fails on `region.toLowerCase()`."""

    def stage_info(request, expr, put_stage_data):  # noqa: ANN001, ANN202
        info = gcs_stage_info(request, expr, put_stage_data)
        return {"region": "us-central1", "endPoint": None, "useRegionalUrl": False, "useVirtualUrl": False, **info}

    return stage_info


def real_bindings(from_binding):  # noqa: ANN001, ANN201
    """fakesnow's decoding of bind values, with REAL as a float (snowflake-sdk binds a non-integer
    number as REAL, and fakesnow passed it on as text: `SELECT ?` with 2.5 answered '2.5'), and FIXED
    in exponent form as the integer it is (snowflake-sdk sends 1e21 as FIXED '1e+21')."""

    def decode(binding: dict):  # noqa: ANN202
        kind, value = binding.get("type"), binding.get("value")
        if kind == "REAL" and value is not None:
            return float(value)
        if kind == "FIXED" and isinstance(value, str) and "e" in value.lower():
            return int(Decimal(value))
        return from_binding(binding)

    return decode


async def presigned_put_only(_request: Request) -> Response:
    """GET of a PUT's presigned URL: 403, as GCS answers a URL signed for PUT. snowflake-sdk GETs it
    first (is the file there?) and uploads on 401/403/404; fakesnow serves PUT alone (405)."""
    return Response(status_code=403)


def build_app() -> Starlette:
    install_translations()
    fakesnow_server.describe_as_rowtype = nested_types_rowtype(fakesnow_server.describe_as_rowtype)
    fakesnow_server.gcs_stage_info = gcs_stage_info_for_node(fakesnow_server.gcs_stage_info)
    fakesnow_server.from_binding = real_bindings(fakesnow_server.from_binding)
    ours = {QUERY_PATH: query_request, ABORT_PATH: cancellation.abort_request}
    routes = [
        Route(route.path, ours[route.path], methods=["POST"]) if route.path in ours else route
        for route in fakesnow_server.routes
        if isinstance(route, Route)
    ]
    # After /queries/v1/abort-request, which it would otherwise match.
    routes.append(Route("/queries/{sfqid}/abort-request", cancellation.abort_query, methods=["POST"]))
    routes.append(Route("/fs_bucket/{path:path}", presigned_put_only, methods=["GET"]))
    # Ahead of fakesnow's monitoring route: the status of statements run asynchronously.
    routes.insert(0, Route("/monitoring/queries/{sfqid}", async_queries.monitoring_query(fakesnow_server.monitoring_query), methods=["GET"]))
    routes.insert(0, Route("/queries/{sfqid}/result", async_queries.query_result, methods=["GET"]))
    return Starlette(debug=False, routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed on stdout")
    args = parser.parse_args()

    # Bind here, not in uvicorn, so port 0 works and the port is known before serving starts.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    config = uvicorn.Config(build_app(), log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()

"""HTTP plumbing both surfaces share: a problem answered as JSON, and a body read with a limit."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from bot.intake.event_batch import MAX_BODY_BYTES
from storage.db import database_reason, unavailable

# How long a client is asked to wait before sending again while the database is away.
UNAVAILABLE_RETRY_AFTER_S = 5
# How long a body may take to arrive once its headers are in: the largest (8 MiB, OTLP) in
# under a minute needs about 1.2 Mbit/s. A client trickling for longer held a task and a
# buffer, and used a key authenticated before the body began, for as long as it liked.
BODY_TIMEOUT_S = 60.0

log = logging.getLogger("aiusage.http")


class HTTPProblem(Exception):
    """Stops a request with `status` and a JSON `{"error": message}`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def problem_response(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)
    return JSONResponse({"error": exc.message}, exc.status, headers=exc.headers)


def unavailable_response(request: Request, exc: Exception) -> Response:
    """503 with Retry-After for a request the database could not serve (`storage.db.
    UNAVAILABLE`): a 500 would tell an OTLP exporter its data is bad, and it drops it;
    a 503 tells every client to send the same again, which ingestion takes only once.
    Any other error of those kinds is raised on, to be a 500."""
    if not unavailable(exc):
        raise exc
    reason = database_reason(exc)
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, reason)
    return JSONResponse(
        {"error": "database unavailable: retry shortly"},
        503,
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing with 413 as soon as it passes `limit` bytes, and with 408
    when it is not whole within BODY_TIMEOUT_S. A client gone before the end is logged in a
    line, not as an error: it is the client's doing, and nothing of the body is used."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPProblem(413, f"body is larger than {limit} bytes")
    body = bytearray()  # one growing buffer: no second copy of a large body when joined
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            async for chunk in request.stream():
                if len(body) + len(chunk) > limit:
                    raise HTTPProblem(413, f"body is larger than {limit} bytes")
                body += chunk
    except ClientDisconnect:
        log.info(
            "%s %s: the client left before its body was whole", request.method, request.url.path
        )
        raise HTTPProblem(400, "the client left before its body was whole") from None
    except TimeoutError:
        log.info(
            "%s %s: body not whole within %s s", request.method, request.url.path, BODY_TIMEOUT_S
        )
        raise HTTPProblem(408, f"body not whole within {BODY_TIMEOUT_S:g} s") from None
    # A large body stays the buffer it was read into (bytes-like wherever it goes): copying
    # it to bytes would hold it twice.
    return bytes(body) if len(body) < 65536 else body  # type: ignore[return-value]

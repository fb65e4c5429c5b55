"""HTTP routes of the API: ingestion, health, metrics and the OpenAPI document."""

from __future__ import annotations

from importlib.metadata import version

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.intake.events import MAX_BODY_BYTES, BadBody, parse_body
from bot.openapi import openapi_document
from bot.services import Services
from jobs.privacy_rules import minimal
from storage.events import record_events
from storage.integrations import authenticate
from storage.records import Integration


class HTTPProblem(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def problem_response(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)
    return JSONResponse({"error": exc.message}, exc.status, headers=exc.headers)


async def authenticate_request(request: Request, services: Services) -> Integration:
    """The integration whose key is in `Authorization: Bearer …`, or a 401."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    integration = None
    if scheme.lower() == "bearer" and key.strip():
        integration = await run_in_threadpool(authenticate, services.db, key.strip())
    if integration is None:
        raise HTTPProblem(
            401, "missing, unknown or revoked integration key", {"WWW-Authenticate": "Bearer"}
        )
    return integration


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, refusing with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPProblem(413, f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPProblem(413, f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def api_routes(services: Services) -> list[Route]:
    async def ingest(request: Request) -> Response:
        integration = await authenticate_request(request, services)
        body = await read_body(request)
        answer = await run_in_threadpool(_ingest, services, integration, body)
        return Response(orjson.dumps(answer), media_type="application/json")

    async def healthz(_request: Request) -> Response:
        if await run_in_threadpool(services.db.ping):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable", "error": "database does not answer"}, 503)

    async def metrics(_request: Request) -> Response:
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")

    document = openapi_document(version("aiusage"))

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    return [
        Route("/api/v1/events", ingest, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


def _ingest(services: Services, integration: Integration, body: bytes) -> dict[str, object]:
    try:
        batch = parse_body(body, default_tool=integration.name, now=services.clock())
    except BadBody as exc:
        raise HTTPProblem(exc.status, exc.message) from None
    events = minimal(batch.events, services.settings.keep_attributes)
    result = record_events(services.db, integration.id, events, services.clock())
    rejected = [
        {"index": r.index, "event_id": r.event_id, "error": r.error} for r in batch.rejected
    ]
    services.metrics.count_events(
        integration.name, len(result.accepted), len(result.duplicates), len(rejected)
    )
    return {
        "accepted": len(result.accepted),
        "duplicates": len(result.duplicates),
        "rejected": rejected,
    }

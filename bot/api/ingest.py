"""`POST /api/v1/events`: the ingestion API, and the bearer-key check OTLP shares."""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.api.decode_gate import RETRY_AFTER_S, Busy, DecodeGate
from bot.intake.encodings import GZIP, BadEncoding, decoded
from bot.intake.event_batch import MAX_BODY_BYTES, BadBody, ParsedBatch, parse_body
from bot.intake.kept_window import within_events
from bot.services import Services
from bot.web import HTTPProblem, read_body
from jobs.privacy_rules import minimal
from jobs.retention import raw_kept_since
from storage.events import record_events
from storage.integrations import authenticate
from storage.records import Integration


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


def ingest_routes(services: Services, gate: DecodeGate | None = None) -> list[Route]:
    """The API's routes; bodies are validated through `gate` (one of their own if None)."""
    gate = gate or DecodeGate()

    async def ingest(request: Request) -> Response:
        integration = await authenticate_request(request, services)
        body = await read_body(request)
        encoding = request.headers.get("content-encoding")
        try:
            batch = await gate.run(_parse, services, integration, body, encoding)
        except Busy:
            raise HTTPProblem(
                503, "busy: retry shortly", {"Retry-After": str(RETRY_AFTER_S)}
            ) from None
        # Again, once the body is in and parsed: a key revoked meanwhile stores nothing.
        integration = await authenticate_request(request, services)
        answer = await run_in_threadpool(_ingest, services, integration, batch)
        return Response(orjson.dumps(answer), media_type="application/json")

    return [
        Route("/api/v1/events", ingest, methods=["POST"]),
    ]


def _parse(
    services: Services, integration: Integration, body: bytes, encoding: str | None
) -> ParsedBatch:
    """Inflate and validate a body: the CPU-bound part, run under the decode gate. A gzip
    body is held to the same 1 MiB once inflated."""
    try:
        body = decoded(body, encoding, MAX_BODY_BYTES)
    except BadEncoding as exc:
        accepted = {"Accept-Encoding": GZIP} if exc.status == 415 else None
        raise HTTPProblem(exc.status, exc.message, accepted) from None
    now = services.clock()
    try:
        batch = parse_body(body, default_tool=integration.name, now=now)
    except BadBody as exc:
        raise HTTPProblem(exc.status, exc.message) from None
    return within_events(batch, raw_kept_since(services.settings.retention(), now))


def _ingest(services: Services, integration: Integration, batch: ParsedBatch) -> dict[str, object]:
    # Only allowlisted attributes reach the database (AIUSAGE_KEEP_ATTRIBUTES).
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

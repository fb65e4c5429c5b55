"""The OTLP/HTTP receiver: `POST /v1/metrics` and `POST /v1/logs`, so a tool's
OTEL_EXPORTER_OTLP_ENDPOINT can point straight at aiusage."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.api.ingest import authenticate_request
from bot.intake.otlp_payload import (
    MAX_BODY_BYTES,
    BadExport,
    ExportLogsServiceRequest,
    ExportMetricsServiceRequest,
    decode,
    encode_response,
    map_logs,
    map_metrics,
    media_type,
)
from bot.services import Services
from bot.web import read_body
from storage.events import record_events
from storage.otlp_series import record_sum_points
from storage.records import Integration


def otlp_routes(services: Services) -> list[Route]:
    async def metrics(request: Request) -> Response:
        return await _export(request, services, logs=False)

    async def logs(request: Request) -> Response:
        return await _export(request, services, logs=True)

    return [
        Route("/v1/metrics", metrics, methods=["POST"]),
        Route("/v1/logs", logs, methods=["POST"]),
    ]


async def _export(request: Request, services: Services, *, logs: bool) -> Response:
    integration = await authenticate_request(request, services)
    try:
        kind = media_type(request.headers.get("content-type"))
    except BadExport as exc:
        return Response(exc.message, exc.status, media_type="text/plain")
    body = await read_body(request, MAX_BODY_BYTES)
    encoding = request.headers.get("content-encoding")
    try:
        rejected, error = await run_in_threadpool(
            _store, services, integration, body, kind, encoding, logs
        )
    except BadExport as exc:
        return Response(exc.message, exc.status, media_type="text/plain")
    return Response(encode_response(kind, rejected, error, logs=logs), media_type=kind)


def _store(
    services: Services,
    integration: Integration,
    body: bytes,
    kind: str,
    encoding: str | None,
    logs: bool,
) -> tuple[int, str]:
    now = services.clock()
    user_attributes = services.settings.otlp_user_attributes
    if logs:
        mapped_logs = map_logs(
            decode(body, kind, encoding, ExportLogsServiceRequest),
            user_attributes=user_attributes,
            now=now,
        )
        result = record_events(services.db, integration.id, mapped_logs.events, now)
        rejected, errors = mapped_logs.rejected, mapped_logs.errors
    else:
        mapped = map_metrics(
            decode(body, kind, encoding, ExportMetricsServiceRequest),
            user_attributes=user_attributes,
            now=now,
        )
        result = record_sum_points(services.db, integration.id, mapped.points, now)
        rejected, errors = mapped.rejected, mapped.errors
    services.metrics.count_events(
        integration.name, len(result.accepted), len(result.duplicates), rejected
    )
    return rejected, "; ".join(errors)[:1000]

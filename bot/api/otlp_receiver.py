"""The OTLP/HTTP receiver: `POST /v1/metrics` and `POST /v1/logs`, so a tool's
OTEL_EXPORTER_OTLP_ENDPOINT can point straight at aiusage."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.api.decode_gate import RETRY_AFTER_S, Busy, DecodeGate
from bot.api.ingest import authenticate_request
from bot.intake.kept_window import within_points, within_records
from bot.intake.otlp_payload import (
    ExportLogsServiceRequest,
    ExportMetricsServiceRequest,
    MappedLogs,
    MappedMetrics,
    map_logs,
    map_metrics,
)
from bot.intake.otlp_wire import MAX_BODY_BYTES, BadExport, decode, encode_response, media_type
from bot.services import Services
from bot.web import read_body
from jobs.retention import raw_kept_since, series_kept_since
from storage.otlp_series import record_log_events, record_sum_points
from storage.records import Integration


def otlp_routes(services: Services, gate: DecodeGate | None = None) -> list[Route]:
    """The OTLP routes; bodies are decoded through `gate` (one of their own if None)."""
    gate = gate or DecodeGate()

    async def metrics(request: Request) -> Response:
        return await _export(request, services, gate, logs=False)

    async def logs(request: Request) -> Response:
        return await _export(request, services, gate, logs=True)

    return [
        Route("/v1/metrics", metrics, methods=["POST"]),
        Route("/v1/logs", logs, methods=["POST"]),
    ]


async def _export(
    request: Request, services: Services, gate: DecodeGate, *, logs: bool
) -> Response:
    integration = await authenticate_request(request, services)
    try:
        kind = media_type(request.headers.get("content-type"))
    except BadExport as exc:
        return Response(exc.message, exc.status, media_type="text/plain")
    body = await read_body(request, MAX_BODY_BYTES)
    encoding = request.headers.get("content-encoding")
    try:
        mapped = await gate.run(_map, services, body, kind, encoding, logs)
    except Busy:
        return Response(
            "busy: retry shortly", 503, {"Retry-After": str(RETRY_AFTER_S)}, "text/plain"
        )
    except BadExport as exc:
        return Response(exc.message, exc.status, media_type="text/plain")
    del body
    # Again, once the body is in and decoded: a key revoked meanwhile stores nothing.
    integration = await authenticate_request(request, services)
    rejected, error = await run_in_threadpool(_store, services, integration, mapped, logs)
    return Response(encode_response(kind, rejected, error, logs=logs), media_type=kind)


def _map(
    services: Services, body: bytes, kind: str, encoding: str | None, logs: bool
) -> MappedLogs | MappedMetrics:
    """Decode and map a body: the CPU-bound part, run under the decode gate."""
    now = services.clock()
    user_attributes = services.settings.otlp_user_attributes
    retention = services.settings.retention()
    if logs:
        records = map_logs(
            decode(body, kind, encoding, ExportLogsServiceRequest),
            user_attributes=user_attributes,
            now=now,
        )
        return within_records(records, raw_kept_since(retention, now))
    points = map_metrics(
        decode(body, kind, encoding, ExportMetricsServiceRequest),
        user_attributes=user_attributes,
        now=now,
    )
    return within_points(points, series_kept_since(retention, now))


def _store(
    services: Services,
    integration: Integration,
    mapped: MappedLogs | MappedMetrics,
    logs: bool,
) -> tuple[int, str]:
    now = services.clock()
    if isinstance(mapped, MappedLogs):
        result = record_log_events(services.db, integration.id, mapped.events, now)
    else:
        result = record_sum_points(services.db, integration.id, mapped.points, now)
    services.metrics.count_events(
        integration.name, len(result.accepted), len(result.duplicates), mapped.rejected
    )
    return mapped.rejected, "; ".join(mapped.errors)[:1000]

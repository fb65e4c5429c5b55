"""OTLP metrics and log bodies built by hand, as Claude Code sends them, and the sending."""

from __future__ import annotations

import base64
import gzip
from datetime import date

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from tests.builders import bearer
from tests.readback import daily_usage

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
NOON = 1_795_003_200 * 10**9  # 2026-11-18 12:00 UTC, the fixed clock's now
SECOND = 10**9
DAY = date(2026, 11, 18)


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def claude_resource(email: str | None = "dev@example.com") -> Resource:
    attrs = [kv("service.name", "claude-code"), kv("service.version", "2.0.14")]
    if email:
        attrs.append(kv("user.email", email))
    return Resource(attributes=attrs)


def point(value: float, *, time: int = NOON, start: int = NOON - 60 * SECOND, **attrs):
    number = NumberDataPoint(
        start_time_unix_nano=start,
        time_unix_nano=time,
        attributes=[kv(k.replace("__", "."), v) for k, v in attrs.items()],
    )
    if isinstance(value, float):
        number.as_double = value
    else:
        number.as_int = value
    return number


def metrics(*pairs, temporality=CUMULATIVE, resource=None) -> ExportMetricsServiceRequest:
    """A request with one resource; pairs are (metric name, [points])."""
    built = [
        Metric(
            name=name,
            unit="tokens",
            sum=Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=True),
        )
        for name, points in pairs
    ]
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=resource or claude_resource(),
                scope_metrics=[ScopeMetrics(metrics=built)],
            )
        ]
    )


def tokens(value: int, kind: str = "input", **kw):
    return ("claude_code.token.usage", [point(value, type=kind, model="claude-sonnet-4-5", **kw)])


def otlp_json(message) -> dict:
    """The message as OTLP/JSON writes it: protobuf's JSON mapping with hex trace ids."""
    data = json_format.MessageToDict(message)
    for resource in data.get("resourceLogs", []):
        for scope in resource.get("scopeLogs", []):
            for record in scope.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64decode(record[key]).hex()
    return data


def send(client, key, message, *, as_json=False, gzipped=False, path="/v1/metrics"):
    if as_json:
        body = orjson.dumps(otlp_json(message))
        content_type = "application/json"
    else:
        body = message.SerializeToString()
        content_type = "application/x-protobuf"
    headers = {**bearer(key), "Content-Type": content_type}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return client.post(path, content=body, headers=headers)


def today(db):
    [day] = daily_usage(db, DAY, DAY)
    return day


def api_request_log(time: int, **extra) -> LogRecord:
    attrs = {
        "event.name": "api_request",
        "event.timestamp": "2026-11-18T12:00:00.000Z",
        "session.id": "9d4c5e7a",
        "user.email": "dev@example.com",
        "model": "claude-sonnet-4-5",
        "input_tokens": "1200",
        "output_tokens": "300",
        "cost_usd": "0.012",
        "duration_ms": "2300",
        **extra,
    }
    return LogRecord(
        time_unix_nano=time,
        body=AnyValue(string_value="claude_code.api_request"),
        attributes=[kv(k, v) for k, v in attrs.items()],
        trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"),
    )


def logs(*records: LogRecord) -> ExportLogsServiceRequest:
    resource = Resource(attributes=[kv("service.name", "claude-code")])
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=list(records))])
        ]
    )

"""The OpenTelemetry Python SDK and its OTLP/HTTP exporters, pointed at the running app."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from jobs.weeks import utcnow
from storage.people import link_email
from tests.readback import daily_usage

ATTRS = {"user.email": "dev@example.com", "model": "claude-sonnet-4-5"}


def meter_provider(base_url: str, key: str, *, delta: bool, compression=Compression.NoCompression):
    exporter = OTLPMetricExporter(
        endpoint=f"{base_url}/v1/metrics",
        headers={"Authorization": f"Bearer {key}"},
        compression=compression,
        preferred_temporality={Counter: AggregationTemporality.DELTA} if delta else {},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    resource = Resource.create({"service.name": "claude-code", "service.version": "2.0.14"})
    return MeterProvider(metric_readers=[reader], resource=resource)


def usage_around_now(db):
    today = utcnow().astimezone(db.tz).date()
    return daily_usage(db, today - timedelta(days=1), today + timedelta(days=1))


@pytest.mark.parametrize(
    ("delta", "compression"),
    [(False, Compression.NoCompression), (True, Compression.Gzip)],
    ids=["cumulative", "delta-gzip"],
)
def test_the_sdk_exporter_is_counted_once_per_increase(
    services, live_server, api_key, db, delta, compression
):
    services.clock = utcnow  # the SDK stamps points with the real time
    link_email(db, "dev@example.com", "UDEV", utcnow())
    provider = meter_provider(live_server, api_key, delta=delta, compression=compression)
    meter = provider.get_meter("com.anthropic.claude_code", "2.0.14")
    token_usage = meter.create_counter("claude_code.token.usage", unit="tokens")
    cost = meter.create_counter("claude_code.cost.usage", unit="USD")
    decisions = meter.create_counter("claude_code.code_edit_tool.decision")

    token_usage.add(1000, {**ATTRS, "type": "input"})
    token_usage.add(250, {**ATTRS, "type": "output"})
    cost.add(0.05, ATTRS)
    decisions.add(1, {"user.email": "dev@example.com", "decision": "accept", "tool_name": "Edit"})
    assert provider.force_flush(10_000)
    # a second export: cumulative resends the running totals, delta only what is new
    token_usage.add(500, {**ATTRS, "type": "input"})
    assert provider.force_flush(10_000)
    assert provider.force_flush(10_000)  # nothing new: must add nothing either way
    provider.shutdown()

    [day] = usage_around_now(db)
    assert (day.tool, day.totals.input_tokens, day.totals.output_tokens) == (
        "claude-code",
        1500,
        250,
    )
    assert day.totals.cost_usd == pytest.approx(0.05)
    assert (day.totals.suggestions_shown, day.totals.suggestions_accepted) == (1, 1)


def test_the_sdk_exporter_is_refused_without_a_valid_key(services, live_server, db, caplog):
    services.clock = utcnow
    provider = meter_provider(live_server, "aiu_wrong_key", delta=False)
    meter = provider.get_meter("com.anthropic.claude_code")
    meter.create_counter("claude_code.token.usage").add(10, {**ATTRS, "type": "input"})
    try:
        provider.force_flush(10_000)
    finally:
        provider.shutdown()
    assert "code: 401" in caplog.text
    assert usage_around_now(db) == []


def test_the_sdk_log_exporter_counts_each_api_request_once(services, live_server, api_key, db):
    services.clock = utcnow
    link_email(db, "dev@example.com", "UDEV", utcnow())
    exporter = OTLPLogExporter(
        endpoint=f"{live_server}/v1/logs", headers={"Authorization": f"Bearer {api_key}"}
    )
    provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("com.anthropic.claude_code.events", "2.0.14")
    for n in range(3):
        logger.emit(
            body="claude_code.api_request",
            event_name="claude_code.api_request",
            timestamp=time.time_ns() - n * 1000,
            attributes={
                "event.name": "api_request",
                "user.email": "dev@example.com",
                "session.id": "s-1",
                "model": "claude-sonnet-4-5",
                "input_tokens": 1200,
                "cost_usd": 0.01,
            },
        )
    logger.emit(body="claude_code.user_prompt", attributes={"user.email": "dev@example.com"})
    provider.shutdown()

    [day] = usage_around_now(db)
    assert (day.tool, day.totals.requests, day.totals.input_tokens) == ("claude-code", 3, 0)

"""OTLP points and log records that break a rule are refused by name in `partial_success`,
and the good ones beside them are stored, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from tests.otlp.helpers import (
    DAY,
    DELTA,
    NOON,
    SECOND,
    api_request_log,
    claude_resource,
    logs,
    metrics,
    point,
    send,
    today,
    tokens,
)
from tests.readback import daily_usage


@pytest.mark.usefixtures("person")
def test_a_model_holding_nul_is_refused_and_the_rest_of_the_export_stored(client, api_key, db):
    good = metrics(
        ("claude_code.token.usage", [point(100, type="input", model="claude-sonnet")]),
        temporality=DELTA,
    )
    bad = metrics(
        ("claude_code.token.usage", [point(7, type="input", model="claude\x00sonnet")]),
        temporality=DELTA,
        resource=claude_resource("someone.else@example.com"),
    )
    message = ExportMetricsServiceRequest(
        resource_metrics=[*good.resource_metrics, *bad.resource_metrics]
    )
    response = send(client, api_key, message)
    assert response.status_code == 200, response.text
    answer = ExportMetricsServiceResponse.FromString(response.content).partial_success
    assert answer.rejected_data_points == 1
    assert "model must not contain the NUL character" in answer.error_message
    assert today(db).totals.input_tokens == 100


@pytest.mark.usefixtures("person")
def test_an_api_request_whose_model_holds_nul_is_refused_beside_good_ones(client, api_key, db):
    message = logs(
        api_request_log(NOON),
        api_request_log(NOON, model="x\x00y", **{"user.email": "someone.else@example.com"}),
    )
    response = send(client, api_key, message, path="/v1/logs")
    assert response.status_code == 200, response.text
    answer = ExportLogsServiceResponse.FromString(response.content).partial_success
    assert answer.rejected_log_records == 1
    assert "model must not contain the NUL character" in answer.error_message
    assert today(db).totals.requests == 1


@pytest.mark.usefixtures("person")
@pytest.mark.parametrize("temporality", [0, 99], ids=["unspecified", "unknown"])
def test_a_sum_of_no_known_temporality_is_refused_not_taken_for_delta(
    client, api_key, db, temporality
):
    for offset in range(3):  # a cumulative counter standing at 1,000, sent three times
        message = metrics(tokens(1000, time=NOON + offset * SECOND), temporality=temporality)
        response = send(client, api_key, message, as_json=True)
        assert response.status_code == 200, response.text
        answer = response.json()["partialSuccess"]
        assert answer["rejectedDataPoints"] == "1"
        assert (
            "aggregation_temporality must be DELTA (1) or CUMULATIVE (2)"
            in (answer["errorMessage"])
        )
    assert daily_usage(db, DAY, DAY) == []

"""Health, metrics and the OpenAPI document."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from bot.composition import create_http_app
from storage.db import Database
from tests.builders import bearer, event

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


def test_health_is_ok_while_the_database_answers(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_health_is_503_when_the_database_is_gone(services, tmp_path):
    services.db = Database(f"sqlite:///{tmp_path}/no/such/dir/aiusage.db", services.db.tz)
    with TestClient(create_http_app(services)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_metrics_count_events_by_integration_and_outcome(client, api_key):
    client.post(
        "/api/v1/events",
        json={"events": [event(event_id="a"), event(event_id="a"), event(event_id="")]},
        headers=bearer(api_key),
    )
    text = client.get("/metrics").text
    assert 'aiusage_events_total{integration="claude-code",outcome="accepted"} 1.0' in text
    assert 'aiusage_events_total{integration="claude-code",outcome="duplicate"} 1.0' in text
    assert 'aiusage_events_total{integration="claude-code",outcome="rejected"} 1.0' in text
    assert (
        'aiusage_http_request_duration_seconds_count{method="POST",route="/api/v1/events"' in text
    )


def test_openapi_describes_the_event_schema(client):
    document = client.get("/openapi.json").json()
    schema = document["components"]["schemas"]["EventIn"]
    assert {"event_id", "user", "occurred_at"} <= set(schema["required"])
    assert schema["properties"]["kind"]["enum"] == [
        "chat",
        "inline_suggestion",
        "agent",
        "completion",
        "other",
    ]
    assert "/api/v1/events" in document["paths"]


def test_made_up_methods_share_one_label_so_metrics_stay_bounded(client):
    # Any token is a method to HTTP: one label per made-up method grew /metrics (and memory)
    # without end for a client that invents them.
    for n in range(50):
        client.request(f"X{n}", "/healthz")
    text = client.get("/metrics").text
    assert 'method="X' not in text
    assert 'aiusage_http_request_duration_seconds_count{method="other",route="/healthz"' in text

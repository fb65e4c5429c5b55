"""The database going away while the service runs. The HTTP API answers 503 with Retry-After,
which OTLP exporters and well-behaved clients retry; a 500 would tell an exporter its data is
bad, and it would drop it. A resend once the database is back is stored once."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from starlette.testclient import TestClient

from bot.composition import create_http_app
from bot.web import UNAVAILABLE_RETRY_AFTER_S
from storage.db import Database
from storage.integrations import KEY_PREFIX
from tests.builders import bearer, event
from tests.fakes.tcp_proxy import TcpProxy
from tests.readback import daily_usage

OTLP = {"resourceMetrics": []}
# Well formed, so checking it needs the database.
SOME_KEY = f"{KEY_PREFIX}_k1_secret"


def assert_retry_shortly(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(UNAVAILABLE_RETRY_AFTER_S)
    assert response.json() == {"error": "database unavailable: retry shortly"}


def test_a_database_that_will_not_open_is_503_with_retry_after(services, tmp_path, caplog):
    services.db = Database(f"sqlite:///{tmp_path}/no/such/dir/aiusage.db", services.db.tz)
    with TestClient(create_http_app(services), raise_server_exceptions=False) as client:
        assert_retry_shortly(client.post("/api/v1/events", json=event(), headers=bearer(SOME_KEY)))
        for path in ("/v1/metrics", "/v1/logs"):
            assert_retry_shortly(client.post(path, json=OTLP, headers=bearer(SOME_KEY)))
    lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lines) == 3 and all(r.levelno == logging.WARNING for r in lines)
    assert "POST /v1/logs: database unavailable: " in lines[-1].getMessage()
    assert "unable to open database file" in lines[-1].getMessage()


def test_postgresql_going_away_and_back_loses_nothing(database_url, services, db, api_key):
    if database_url.startswith("sqlite"):
        pytest.skip("a network between the service and its database is PostgreSQL's")
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    services.db = Database(
        database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/"), db.tz
    )
    a, b, c = (event(event_id=name) for name in "abc")
    try:
        with TestClient(create_http_app(services), raise_server_exceptions=False) as client:
            first = client.post("/api/v1/events", json={"events": [a, b]}, headers=bearer(api_key))
            assert first.json()["accepted"] == 2
            proxy.cut()  # every pooled connection dropped, new ones refused
            batch = {"events": [b, c]}
            assert_retry_shortly(client.post("/api/v1/events", json=batch, headers=bearer(api_key)))
            assert_retry_shortly(client.post("/v1/metrics", json=OTLP, headers=bearer(api_key)))
            proxy.restore()
            again = client.post("/api/v1/events", json=batch, headers=bearer(api_key))
            assert again.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    finally:
        proxy.stop()
        services.db.dispose()
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.totals.requests == 3

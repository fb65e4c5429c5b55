"""Usage older than retention keeps is refused at the door, by name, beside good usage that
is kept: once its raw row is pruned, a resend of it could no longer be told from new usage,
and it would count twice (AIUSAGE_RAW_RETENTION_DAYS, and for an OTLP series also
AIUSAGE_OTLP_RETENTION_DAYS, which its state is kept for)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from freezegun import freeze_time
from starlette.testclient import TestClient

from bot.cli.main import main
from bot.composition import build_services, create_http_app
from bot.settings import load_settings
from jobs.weeks import utcnow
from storage.integrations import create_integration
from tests.builders import bearer, event
from tests.otlp.helpers import DAY, NOON, SECOND, api_request_log, logs, metrics, send, tokens

OLD = "2026-08-19T21:59:00Z"  # 23:59 in Berlin on the day before the 90th day back
KEPT = "2026-08-19T22:00:00Z"  # 00:00 on 2026-08-20 in Berlin: the first moment kept
TOO_OLD = (
    "occurred_at is before 2026-08-19 22:00 UTC, older than aiusage keeps raw usage "
    "(AIUSAGE_RAW_RETENTION_DAYS): a resend of it could not be told from new usage"
)


@pytest.fixture
def timezone():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


@pytest.fixture
def http(settings, db) -> Iterator[TestClient]:
    """The app as `serve` builds it, on the real clock, which each test freezes."""
    services = build_services(load_settings(), utcnow)
    with TestClient(create_http_app(services)) as client:
        yield client


def requests_reported(day: str, capsys) -> int:
    assert main(["report", "--from", day, "--to", day, "--format", "json"]) == 0
    return sum(row["requests"] for row in json.loads(capsys.readouterr().out))


@freeze_time("2026-11-18T12:00:00Z")
def test_an_event_before_the_raw_window_is_refused_by_name_and_its_neighbours_kept(http, db, now):
    _, key = create_integration(db, "kiro", now)
    old, kept = event(occurred_at=OLD), event(occurred_at=KEPT)
    answer = http.post("/api/v1/events", json={"events": [old, kept]}, headers=bearer(key))
    assert answer.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [{"index": 0, "event_id": old["event_id"], "error": TOO_OLD}],
    }


def test_a_resend_after_the_prune_is_refused_not_counted_again(settings, db, capsys):
    """The resend an integration makes after a long outage: counted once, whatever the
    retention did meanwhile."""
    first = datetime.fromisoformat("2026-11-18T12:00:00+00:00")
    _, key = create_integration(db, "kiro", first)
    late = event(occurred_at="2026-09-01T10:00:00Z")
    services = build_services(load_settings(), utcnow)
    with freeze_time(first) as clock, TestClient(create_http_app(services)) as http:
        answer = http.post("/api/v1/events", json=late, headers=bearer(key)).json()
        assert answer["accepted"] == 1
        clock.move_to(first + timedelta(days=30))
        assert main(["db", "prune"]) == 0  # the raw row of 2026-09-01 goes
        answer = http.post("/api/v1/events", json=late, headers=bearer(key)).json()
    assert answer["accepted"] == 0
    assert "older than aiusage keeps raw usage" in answer["rejected"][0]["error"]
    capsys.readouterr()
    assert requests_reported("2026-09-01", capsys) == 1


@freeze_time("2026-11-18T12:00:00Z")
def test_with_raw_events_kept_forever_old_usage_is_taken(http, db, now, monkeypatch):
    monkeypatch.setenv("AIUSAGE_RAW_RETENTION_DAYS", "0")
    services = build_services(load_settings(), utcnow)
    _, key = create_integration(db, "kiro", now)
    with TestClient(create_http_app(services)) as forever:
        answer = forever.post("/api/v1/events", json=event(occurred_at=OLD), headers=bearer(key))
    assert answer.json()["accepted"] == 1


@freeze_time("2026-11-18T12:00:00Z")
def test_otlp_points_older_than_a_series_state_is_kept_are_a_partial_success(http, db, now):
    """A cumulative series' state is kept 35 days: an older point would count from zero."""
    _, key = create_integration(db, "claude-code", now)
    old = NOON - 36 * 86_400 * SECOND
    message = metrics(tokens(10, time=old, start=old - SECOND), tokens(5, kind="output"))
    answer = send(http, key, message, as_json=True).json()
    assert answer["partialSuccess"]["rejectedDataPoints"] == "1"
    assert answer["partialSuccess"]["errorMessage"] == (
        "1 refused: occurred_at is before 2026-10-14 12:00 UTC, older than aiusage keeps raw "
        "usage (AIUSAGE_RAW_RETENTION_DAYS, AIUSAGE_OTLP_RETENTION_DAYS): a resend of it "
        "could not be told from new usage"
    )


@freeze_time("2026-11-18T12:00:00Z")
def test_otlp_log_records_before_the_raw_window_are_a_partial_success(http, db, now, capsys):
    _, key = create_integration(db, "claude-code", now)
    old = NOON - 91 * 86_400 * SECOND
    message = logs(api_request_log(old), api_request_log(NOON))
    answer = send(http, key, message, path="/v1/logs", as_json=True).json()
    assert answer["partialSuccess"] == {
        "rejectedLogRecords": "1",
        "errorMessage": f"1 refused: {TOO_OLD}",
    }
    capsys.readouterr()
    assert requests_reported(DAY.isoformat(), capsys) == 1  # today's record, kept beside it

"""Retention through `aiusage db prune`: exactly what is past its age goes, by local day in
the configured zone (across a DST change), in bounded batches, and the daily figures that
`me`, `top`, awards and `report` read are unchanged while raw events go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from bot.cli.main import main
from storage.admin import record_audit
from storage.events import record_events
from storage.integrations import create_integration
from storage.models import DailyRow, EventRow
from storage.post_models import AuditRow
from storage.records import UsageEvent, UserRef
from storage.retention import Cutoffs, prune

BERLIN = ZoneInfo("Europe/Berlin")
# Berlin leaves summer time at 03:00 on Sunday 2026-10-25. 30 days before local Tuesday
# 2026-11-24 is local day 2026-10-25: everything on an earlier local day goes.
PRUNE_AT = datetime(2026, 11, 24, 0, 30, tzinfo=BERLIN)  # 2026-11-23 23:30 UTC
GONE = ["2026-10-24T21:59:00Z", "2025-06-01T12:00:00Z"]  # 23:59 on 10-24 in Berlin; old
KEPT = [
    "2026-10-24T22:00:00Z",  # 00:00 CEST on the 25th: a UTC cut would delete it
    "2026-10-25T00:30:00Z",  # 02:30 CEST, the first of the two 02:30s
    "2026-10-25T01:30:00Z",  # 02:30 CET, the second
    "2026-11-23T22:59:00Z",
]


@pytest.fixture
def timezone() -> ZoneInfo:
    return BERLIN


@pytest.fixture
def settings(settings, monkeypatch):
    from bot.settings import load_settings

    monkeypatch.setenv("AIUSAGE_RAW_RETENTION_DAYS", "30")
    monkeypatch.setenv("AIUSAGE_ROLLUP_RETENTION_DAYS", "400")
    monkeypatch.setenv("AIUSAGE_AUDIT_RETENTION_DAYS", "10")
    return load_settings()


def store(db, moments, now):
    integration, _ = create_integration(db, "kiro", now)
    record_events(
        db,
        integration.id,
        [
            UsageEvent(
                event_id=f"e{i}",
                user=UserRef(slack_user_id="UALICE"),
                occurred_at=datetime.fromisoformat(m),
                tool="kiro",
                input_tokens=100 + i,
            )
            for i, m in enumerate(moments)
        ],
        now,
    )


def counts(db):
    with db.read() as conn:
        return (
            sorted(
                m.isoformat()
                for m in conn.scalars(select(EventRow.occurred_at).order_by(EventRow.id))
            ),
            conn.scalar(select(func.count()).select_from(DailyRow)),
        )


def report(capsys, since="2026-10-20", until="2026-11-24"):
    capsys.readouterr()
    assert main(["report", "--from", since, "--to", until, "--format", "json"]) == 0
    return capsys.readouterr().out


def test_prune_deletes_exactly_the_events_before_the_local_cutoff_day(settings, db, capsys):
    now = datetime(2026, 11, 24, tzinfo=UTC)
    store(db, GONE + KEPT, now)
    before = report(capsys)
    _, daily_before = counts(db)
    with freeze_time(PRUNE_AT):
        assert main(["db", "prune"]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 raw usage events" in out
    assert "deleted 1 daily figures" in out  # the 2025 day is past 400 days too
    events, daily = counts(db)
    assert events == sorted(datetime.fromisoformat(m).isoformat() for m in KEPT)
    assert daily == daily_before - 1
    # The report reads the daily figures, which keep the deleted events' day (10-24).
    assert report(capsys) == before and '"input_tokens": 514' in before  # 100+102+...+105
    # Running it again deletes nothing more.
    with freeze_time(PRUNE_AT):
        assert main(["db", "prune"]) == 0
    assert "deleted 0 raw usage events" in capsys.readouterr().out


def test_audit_entries_past_their_age_go_and_recent_ones_stay(settings, db, capsys):
    record_audit(db, "cli:old", "people.link", "done", datetime(2026, 11, 1, tzinfo=UTC))
    record_audit(db, "cli:new", "people.link", "done", datetime(2026, 11, 20, tzinfo=UTC))
    with freeze_time(PRUNE_AT):
        assert main(["db", "prune"]) == 0
    assert "deleted 1 audit log entries" in capsys.readouterr().out
    with db.read() as conn:
        actors = list(conn.scalars(select(AuditRow.actor)))
    assert actors == ["cli:new"]


def test_deletes_run_in_bounded_batches_each_its_own_transaction(settings, db):
    now = datetime(2026, 11, 24, tzinfo=UTC)
    old = [(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i)).isoformat() for i in range(7)]
    store(db, old, now)
    batches = []
    deleted = prune(
        db,
        Cutoffs(raw_before=datetime(2026, 6, 1).date(), rollup_before=None,
                otlp_before=None, audit_before=None),
        batch=3,
        on_batch=lambda: batches.append(counts(db)[0]),
    )  # fmt: skip
    assert deleted["events"] == 7
    # Each batch committed before the next began: 4, then 1, then 0 events left.
    assert [len(b) for b in batches] == [4, 1, 0]


def test_zero_keeps_daily_figures_forever(settings, db, capsys, monkeypatch):
    monkeypatch.setenv("AIUSAGE_ROLLUP_RETENTION_DAYS", "0")
    store(db, GONE, datetime(2026, 11, 24, tzinfo=UTC))
    with freeze_time(PRUNE_AT):
        assert main(["db", "prune"]) == 0
    out = capsys.readouterr().out
    assert "deleted 2 raw usage events" in out and "deleted 0 daily figures" in out


@pytest.mark.parametrize("value", ["-1", "ninety", "1e9"])
def test_a_malformed_retention_setting_stops_with_a_line_naming_it(
    settings, monkeypatch, capsys, value
):
    monkeypatch.setenv("AIUSAGE_RAW_RETENTION_DAYS", value)
    assert main(["db", "prune"]) == 2
    assert capsys.readouterr().err.startswith("aiusage: AIUSAGE_RAW_RETENTION_DAYS:")


def test_retention_runs_daily_at_a_quiet_local_hour_across_the_dst_change():
    from jobs.schedule import RETENTION_CRON
    from jobs.schedule.wall_clock import first_fire_at

    before = first_fire_at(RETENTION_CRON, BERLIN, datetime(2026, 10, 23, 12, tzinfo=UTC))
    after = first_fire_at(RETENTION_CRON, BERLIN, before + timedelta(minutes=1))
    assert before == datetime(2026, 10, 24, 3, 17, tzinfo=BERLIN)  # summer time
    assert after == datetime(2026, 10, 25, 3, 17, tzinfo=BERLIN)  # winter time, that night
    assert after.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=25)  # a local day


def test_serve_schedules_retention_with_the_configured_ages(settings, db, services):
    from bot.composition import build_scheduler

    store(db, GONE + KEPT, datetime(2026, 11, 24, tzinfo=UTC))
    services.clock = lambda: PRUNE_AT.astimezone(UTC)
    scheduler = build_scheduler(services)
    assert scheduler.retention_job is not None
    scheduler.retention_job()
    assert counts(db)[0] == sorted(datetime.fromisoformat(m).isoformat() for m in KEPT)

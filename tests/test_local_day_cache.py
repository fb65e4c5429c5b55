"""Local days through the real API where a per-hour offset cache could go wrong
(`storage.event_rows.LocalDays`): Tehran in 2021 was UTC+3:30, so its midnight fell at
:30 past a UTC hour, and its DST changes came at local midnight, mid-way through a UTC
hour. Each pair below shares one UTC hour but not one local day; the expected days are
written out by hand, not computed with zoneinfo."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from tests.builders import bearer, event
from tests.readback import daily_usage

MOMENTS = {
    # An ordinary day: local midnight at 20:30 UTC (+3:30).
    "2021-01-10T20:15:00Z": date(2021, 1, 10),  # 23:45 +0330
    "2021-01-10T20:45:00Z": date(2021, 1, 11),  # 00:15 +0330
    # DST start: 2021-03-22 00:00 +0330 became 01:00 +0430, at 20:30 UTC.
    "2021-03-21T20:15:00Z": date(2021, 3, 21),  # 23:45 +0330 (00:45 if taken at +4:30)
    "2021-03-21T20:45:00Z": date(2021, 3, 22),  # 01:15 +0430
    # DST end: 2021-09-22 00:00 +0430 became 23:00 +0330 on the 21st, at 19:30 UTC.
    "2021-09-21T19:15:00Z": date(2021, 9, 21),  # 23:45 +0430
    "2021-09-21T19:45:00Z": date(2021, 9, 21),  # 23:15 +0330 (00:15 if taken at +4:30)
}


@pytest.fixture
def timezone():
    return ZoneInfo("Asia/Tehran")


@pytest.fixture
def settings(settings, monkeypatch):
    """Raw events kept for good: the moments are from 2021."""
    from bot.settings import load_settings

    monkeypatch.setenv("AIUSAGE_RAW_RETENTION_DAYS", "0")
    return load_settings()


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_days_split_inside_one_utc_hour_at_midnight_and_dst_changes(client, api_key, db, order):
    # Both orders: whichever moment of an hour comes first is the one the cache learns from.
    moments = sorted(MOMENTS, reverse=order == "backward")
    batch = [event(occurred_at=at, input_tokens=1 + i) for i, at in enumerate(moments)]
    answer = client.post("/api/v1/events", json={"events": batch}, headers=bearer(api_key)).json()
    assert answer == {"accepted": len(batch), "duplicates": 0, "rejected": []}
    expected: dict[date, int] = {}
    for i, at in enumerate(moments):
        expected[MOMENTS[at]] = expected.get(MOMENTS[at], 0) + 1 + i
    stored = daily_usage(db, date(2021, 1, 1), date(2021, 12, 31))
    assert {row.day: row.totals.input_tokens for row in stored} == expected

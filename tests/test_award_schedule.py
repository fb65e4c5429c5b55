"""The award schedule: next fire times across DST, and when a missed post is caught up."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from jobs.awards import AwardConfig, catch_up_due, post_key
from jobs.schedule import MISFIRE_GRACE, Scheduler, due_time
from jobs.schedule.wall_clock import award_trigger, first_fire_at
from jobs.weeks import Week, last_complete_week
from storage.posts import claim_post, mark_posted

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def fires(expr: str, tz: ZoneInfo, start: datetime, count: int) -> list[datetime]:
    trigger = award_trigger(expr, tz)
    out, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        out.append(fire.astimezone(UTC))
        previous, now = fire, fire.replace(microsecond=1)
    return out


def test_monday_nine_in_berlin_follows_the_spring_change():
    # CET (UTC+1) until Sunday 29 March 2026, CEST (UTC+2) after.
    assert fires("0 9 * * mon", BERLIN, datetime(2026, 3, 20, tzinfo=UTC), 2) == [
        datetime(2026, 3, 23, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    ]


def test_monday_nine_in_berlin_follows_the_autumn_change():
    # CEST until Sunday 25 October 2026, CET after.
    assert fires("0 9 * * mon", BERLIN, datetime(2026, 10, 14, tzinfo=UTC), 2) == [
        datetime(2026, 10, 19, 7, 0, tzinfo=UTC),
        datetime(2026, 10, 26, 8, 0, tzinfo=UTC),
    ]


def test_new_york_changes_on_its_own_dates():
    # EST (UTC-5) until 8 March 2026, EDT (UTC-4) until 1 November 2026.
    assert fires("0 9 * * mon", NEW_YORK, datetime(2026, 3, 1, tzinfo=UTC), 2) == [
        datetime(2026, 3, 2, 14, 0, tzinfo=UTC),
        datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
    ]
    assert fires("0 9 * * mon", NEW_YORK, datetime(2026, 10, 27, tzinfo=UTC), 2) == [
        datetime(2026, 11, 2, 14, 0, tzinfo=UTC),
        datetime(2026, 11, 9, 14, 0, tzinfo=UTC),
    ]


def test_a_fire_time_in_the_skipped_hour_still_fires_once_that_day():
    # 02:30 does not exist in Berlin on 29 March 2026; the trigger moves it, it does not drop it.
    [fire] = fires("30 2 * * sun", BERLIN, datetime(2026, 3, 28, 12, tzinfo=UTC), 1)
    assert fire.astimezone(BERLIN).date() == datetime(2026, 3, 29).date()


# Zones whose clocks change: by an hour, at midnight (Santiago, Havana), by half an hour
# (Lord Howe), across the date line (Apia, which no longer changes), or never (Kathmandu).
CHANGING = [
    "America/New_York",
    "Europe/London",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
    "Pacific/Apia",
    "Asia/Kathmandu",
]


@pytest.mark.parametrize("zone", CHANGING)
@pytest.mark.parametrize("expr", ["30 0 * * *", "30 1 * * *", "30 2 * * *", "0 9 * * *"])
def test_a_daily_time_fires_once_every_day_of_the_year_whatever_the_clocks_do(zone, expr):
    # Skipped wall times fire later that day, repeated ones once: 365 days, 365 fires. A
    # midnight jump used to drop a day's fire (a week's, for a weekly post).
    tz = ZoneInfo(zone)
    year = fires(expr, tz, datetime(2026, 1, 1, tzinfo=tz), 366)
    days = [fire.astimezone(tz).date() for fire in year]
    assert len(set(days[:365])) == 365 and days[0].isoformat() == "2026-01-01"
    assert days[365].isoformat() == "2027-01-01"
    assert year == sorted(year)


def test_a_weekly_post_at_a_time_skipped_at_midnight_still_goes_out_that_week():
    santiago = ZoneInfo("America/Santiago")  # 6 September 2026 starts at 01:00
    assert [
        f.astimezone(santiago).isoformat()
        for f in fires("30 0 * * sun", santiago, datetime(2026, 8, 31, tzinfo=UTC), 3)
    ] == [
        "2026-09-06T01:30:00-03:00",
        "2026-09-13T00:30:00-03:00",
        "2026-09-20T00:30:00-03:00",
    ]


def test_an_hourly_job_fires_whenever_the_clock_shows_its_minute():
    # 1 November 2026, New York: 01:00 to 02:00 happens twice (EDT, then EST).
    night = fires("7 * * * *", NEW_YORK, datetime(2026, 11, 1, 4, tzinfo=UTC), 4)
    assert [f.strftime("%H:%M") for f in night] == ["04:07", "05:07", "06:07", "07:07"]
    # 8 March 2026: 02:00 to 03:00 never happens, so neither does 02:07.
    spring = fires("7 * * * *", NEW_YORK, datetime(2026, 3, 8, 6, tzinfo=UTC), 2)
    assert [f.astimezone(NEW_YORK).strftime("%H:%M") for f in spring] == ["01:07", "03:07"]


def test_due_times_inside_a_repeated_hour_are_found_at_once():
    # Asked from the second 01:07, the look-up asked APScheduler again from an hour earlier
    # and was handed the same time for ever: each job's thread spun, and never ran it.
    second_time_round = datetime(2026, 11, 1, 6, 7, 5, tzinfo=UTC).astimezone(NEW_YORK)
    cases = {
        "7 * * * *": datetime(2026, 11, 1, 6, 7, tzinfo=UTC),
        "*/15 * * * *": datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
        "30 1 * * sun": datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # the first time round
    }
    found: dict[str, datetime] = {}
    for expr in cases:
        worker = threading.Thread(
            target=lambda e=expr: found.setdefault(
                e, due_time(award_trigger(e, NEW_YORK), second_time_round, timedelta(days=1))
            ),
            daemon=True,
        )
        worker.start()
        worker.join(5)
    assert found == cases


class CountingTrigger:
    """A trigger that counts the fire times it is asked for."""

    def __init__(self, trigger: Any) -> None:
        self.trigger, self.asked = trigger, 0

    def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime | None:
        self.asked += 1
        return self.trigger.get_next_fire_time(previous, now)


def latest_fire_walking_the_whole_lookback(expr, zone, now, lookback):
    trigger, due = award_trigger(expr, zone), None
    fire = trigger.get_next_fire_time(None, now - lookback)
    while fire is not None and fire <= now + timedelta(seconds=1):
        due = fire
        fire = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
    return due if due is not None else now.replace(microsecond=0)


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, ZoneInfo("Australia/Lord_Howe")])
@pytest.mark.parametrize(
    ("expr", "lookback"),
    [
        # Look-backs short enough for the whole walk to check against, each past a window.
        ("* * * * *", timedelta(minutes=10)),
        ("*/15 * * * *", timedelta(days=1, hours=1)),
        ("7 * * * *", timedelta(days=2)),
        ("0-59 9 * * *", timedelta(days=2)),
        ("0 9 * * mon", MISFIRE_GRACE),
        ("0 0 1 * *", MISFIRE_GRACE),
    ],
)
def test_the_due_time_is_the_latest_fire_time_in_the_look_back(zone, expr, lookback):
    # Around each zone's changes of the clocks in 2026, and on ordinary days.
    moments = [
        datetime(2026, 3, 29, 1, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 0, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 7, 5, tzinfo=UTC),
        datetime(2026, 10, 4, 0, 0, 30, tzinfo=UTC),
        datetime(2026, 4, 5, 1, 31, tzinfo=UTC),
        datetime(2026, 11, 18, 11, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 18, 23, 59, 59, tzinfo=UTC),
    ]
    for now in moments:
        expected = latest_fire_walking_the_whole_lookback(expr, zone, now, lookback)
        assert due_time(award_trigger(expr, zone), now, lookback) == expected, now


@pytest.mark.parametrize("zone", [BERLIN, ZoneInfo("Australia/Lord_Howe")])
def test_a_minutely_schedule_finds_its_due_time_without_walking_six_days(zone):
    # An hour after Berlin's clocks went back; an hour after Lord Howe's half-hour jump. Each
    # award run walked its six days' look-back, 8,640 fire times, seconds of CPU a minute.
    for now in (
        datetime(2026, 10, 25, 2, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 4, 0, 0, 30, tzinfo=UTC),
    ):
        trigger = CountingTrigger(award_trigger("* * * * *", zone))
        assert due_time(trigger, now, MISFIRE_GRACE) == now.replace(second=0)
        assert trigger.asked <= 5


@pytest.mark.parametrize(
    ("zone", "moment"),
    [
        ("America/New_York", datetime(2026, 11, 1, 6, 7, 5, tzinfo=UTC)),
        ("Europe/London", datetime(2026, 10, 25, 1, 7, 5, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 11, 1, 12, 7, 5, tzinfo=UTC)),  # hours after
    ],
)
def test_the_hourly_scan_runs_on_the_night_the_clocks_go_back(zone, moment):
    runs: list[tuple[str, datetime]] = []
    scheduler = Scheduler(
        "0 9 * * mon",
        ZoneInfo(zone),
        award_job=lambda: None,
        integrity_job=lambda: None,
        catch_up_due=lambda: False,
        run_once=lambda job, due, work: runs.append((job, due)),
    )
    scan = {name: run for name, _, run in scheduler.planned()}["integrity-scan"]
    with freeze_time(moment):
        worker = threading.Thread(target=scan, daemon=True)
        worker.start()
        worker.join(5)
    assert runs == [("integrity-scan", moment.replace(second=0))]


def test_the_last_complete_week_is_the_one_before_the_fire_time():
    fire = first_fire_at("0 9 * * mon", BERLIN, datetime(2026, 11, 15, 23, tzinfo=UTC))
    assert fire == datetime(2026, 11, 16, 9, 0, tzinfo=BERLIN)
    assert last_complete_week(fire, BERLIN) == Week(datetime(2026, 11, 9).date())


@pytest.fixture
def config() -> AwardConfig:
    return AwardConfig(channels=("CAWARDS",), schedule="0 9 * * mon", tz=BERLIN)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (datetime(2026, 11, 16, 7, 59, tzinfo=UTC), False),  # 08:59 Berlin: not yet
        (datetime(2026, 11, 16, 8, 0, tzinfo=UTC), True),  # 09:00 Berlin: due
        (datetime(2026, 11, 19, 12, 0, tzinfo=UTC), True),  # down all Monday: still due
    ],
)
def test_catch_up_is_due_once_the_fire_time_passed_without_a_post(db, config, now, due):
    assert catch_up_due(db, config, now) is due


def test_catch_up_is_not_due_once_every_channel_has_its_post(db, config):
    now = datetime(2026, 11, 17, 12, tzinfo=UTC)
    key = post_key(Week(datetime(2026, 11, 9).date()))
    claim_post(db, key, "CAWARDS", "earlier", now, MISFIRE_GRACE)
    assert catch_up_due(db, config, now)
    mark_posted(db, key, "CAWARDS", "earlier", "1.0", now)
    assert not catch_up_due(db, config, now)


@pytest.mark.parametrize("due", [True, False])
def test_the_scheduler_runs_a_missed_post_once_at_start_and_stops_cleanly(due):
    ran: list[str] = []
    scheduler = Scheduler(
        "0 9 * * mon",
        BERLIN,
        award_job=lambda: ran.append("award"),
        integrity_job=lambda: ran.append("integrity"),
        catch_up_due=lambda: due,
    )
    scheduler.start()
    deadline = time.monotonic() + 5
    while due and not ran and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.shutdown()  # waits for a running job to finish
    assert ran == (["award"] if due else [])


def run_scheduler(award_job, catch_up_due, seconds: float = 1.5) -> None:
    """A scheduler whose re-drive comes every 0.1 s, run for `seconds`."""
    scheduler = Scheduler(
        "0 9 * * mon",
        BERLIN,
        award_job=award_job,
        integrity_job=lambda: None,
        catch_up_due=catch_up_due,
        redrive_job=lambda: None,
        redrive_every=timedelta(seconds=0.1),
    )
    scheduler.start()
    time.sleep(seconds)
    scheduler.shutdown()


def test_an_award_run_that_failed_is_tried_again_until_the_post_is_made():
    # The database was away when the week's post fell due: the fire time would not come
    # back for a week, so the re-drive runs the award job again while the post is missing.
    runs: list[str] = []

    def award() -> None:
        runs.append("award")
        if len(runs) < 3:
            raise RuntimeError("database unavailable")

    run_scheduler(award, catch_up_due=lambda: len(runs) < 3)
    assert runs == ["award"] * 3


def test_a_run_that_succeeded_is_not_repeated_by_the_re_drive():
    # A post that failed for its own reasons is the outbox's to re-drive, not a new run's.
    runs: list[str] = []
    run_scheduler(lambda: runs.append("award"), catch_up_due=lambda: True, seconds=1.0)
    assert runs == ["award"]  # the catch-up at start, once

"""The award schedule: next fire times across DST, and when a missed post is caught up."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobs.awards import AwardConfig, catch_up_due, post_key
from jobs.schedule import MISFIRE_GRACE, Scheduler, award_trigger, first_fire_at
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

"""Weekly award posts against a fake Slack over HTTP: the winners and their reasons, exactly
once per week and channel through re-runs, concurrent runs, rate limits and failing channels."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import update

from bot.cli.main import main
from bot.composition import award_config, slack_notifier
from bot.settings import load_settings
from jobs.awards import decide_week, post_key, post_week, scheduled_awards
from storage.awards import active_days_history, awards_for, store_awards, week_awards
from storage.db import Database
from storage.events import record_events
from storage.integrations import create_integration
from storage.integrity import week_flags
from storage.models import PersonRow
from storage.posts import post_claims
from storage.records import NewAward
from tests.award_posting.helpers import MONDAY, WEEK, person_id, retire, run, usage


def test_the_post_names_winners_with_reasons_and_never_the_flagged(
    settings, db, fake, now, week_of_usage
):
    report = run(settings, db, lambda: now)
    assert [(r.channel, r.status) for r in report.results] == [
        ("CAWARDS", "posted"),
        ("CGENERAL", "posted"),
    ]
    [message] = fake.messages["CAWARDS"]
    assert "<@UALICE> (5 active days, 45% acceptance)" in message["text"]
    assert "<@UBOB> (1 tool colleagues use too, 3 kinds of work)" in message["text"]
    assert "UDAVE" not in str(message)
    assert message["blocks"][0]["text"]["text"] == "AI badges for week 2026-W46 (9 to 15 Nov 2026)"
    assert message["metadata"] == {
        "event_type": "aiusage_post",
        "event_payload": {"post_key": "awards:2026-W46"},
    }
    assert {f.person_id for f in week_flags(db, WEEK.start)} == {person_id(db, "UDAVE")}
    assert [f.signal for f in week_flags(db, WEEK.start)] == ["regular_spacing"]
    assert [(a.slack_user_id, a.category) for a in week_awards(db, WEEK.start)] == [
        ("UALICE", "steady"),
        ("UBOB", "breadth"),
    ]
    claims = post_claims(db, post_key(WEEK))
    assert [(c.channel, c.status, c.ts) for c in claims] == [
        ("CAWARDS", "posted", message["ts"]),
        ("CGENERAL", "posted", fake.messages["CGENERAL"][0]["ts"]),
    ]


def test_a_second_run_posts_nothing_and_keeps_the_first_winners(
    settings, db, fake, now, week_of_usage
):
    run(settings, db, lambda: now)
    # More usage arrives late for the week; the awards already decided stand.
    integration, _ = create_integration(db, "copilot", now)
    late = [usage("UERIN", MONDAY + timedelta(days=d, hours=9), d) for d in range(7)]
    record_events(db, integration.id, late, now)
    report = run(settings, db, lambda: now + timedelta(hours=1))
    assert [r.status for r in report.results] == ["already", "already"]
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert [a.slack_user_id for a in week_awards(db, WEEK.start)] == ["UALICE", "UBOB"]


def test_concurrent_runs_post_once_per_channel(settings, db, fake, now, week_of_usage):
    barrier = threading.Barrier(4)
    statuses: list[str] = []
    errors: list[BaseException] = []

    def replica() -> None:
        own_db = Database(settings.database_url, settings.timezone)
        try:
            barrier.wait()
            report = run(settings, own_db, lambda: now)
            statuses.extend(r.status for r in report.results)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own_db.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(fake.messages["CAWARDS"]) == 1 and len(fake.messages["CGENERAL"]) == 1
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert sorted(statuses).count("posted") == 2
    assert set(statuses) <= {"posted", "already", "busy"}
    assert [a.slack_user_id for a in week_awards(db, WEEK.start)] == ["UALICE", "UBOB"]


def test_a_rate_limit_is_waited_out_and_posts_once(settings, db, fake, now, week_of_usage):
    fake.fail("chat.postMessage", status=429, retry_after=1, channel="CAWARDS")
    report = run(settings, db, lambda: now)
    assert [r.status for r in report.results] == ["posted", "posted"]
    assert len(fake.messages["CAWARDS"]) == 1
    assert len(fake.calls_to("chat.postMessage")) == 3


@pytest.mark.parametrize(
    ("channel", "error"), [("CNOPE", "channel_not_found"), ("CLOCKED", "not_in_channel")]
)
def test_a_failing_channel_is_recorded_and_the_others_still_get_their_post(
    settings, db, fake, now, week_of_usage, monkeypatch, channel, error
):
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", f"{channel},CAWARDS")
    settings = load_settings()
    report = run(settings, db, lambda: now)
    assert [(r.channel, r.status, r.error) for r in report.results] == [
        (channel, "failed", error),
        ("CAWARDS", "posted", None),
    ]
    failed = next(c for c in post_claims(db, post_key(WEEK)) if c.channel == channel)
    assert (failed.status, failed.error, failed.ts) == ("failed", error, None)
    # Once the bot is let in, the next run posts there, and only there.
    fake.channels.add(channel)
    fake.not_in.discard(channel)
    report = run(settings, db, lambda: now + timedelta(hours=1))
    assert [r.status for r in report.results] == ["posted", "already"]
    assert len(fake.messages[channel]) == 1 and len(fake.messages["CAWARDS"]) == 1


def test_a_retired_leaderboard_stops_the_job_and_the_command(
    settings, db, fake, now, week_of_usage
):
    retire(db)
    config = award_config(settings)
    assert scheduled_awards(db, slack_notifier(settings), config, lambda: now) is None
    report = run(settings, db, lambda: now)
    assert report.refused.startswith("the leaderboard is retired")
    assert fake.calls == []
    assert week_awards(db, WEEK.start) == []


def test_someone_who_opts_out_after_the_decision_is_left_out_of_the_post(
    settings, db, fake, now, week_of_usage
):
    decide_week(db, WEEK, award_config(settings), now, store=True)
    with db.engine.begin() as conn:
        conn.execute(
            update(PersonRow).where(PersonRow.slack_user_id == "UALICE").values(opted_out=True)
        )
    report = run(settings, db, lambda: now)
    assert report.winners == 1
    [message] = fake.messages["CAWARDS"]
    assert "UALICE" not in str(message) and "<@UBOB>" in message["text"]
    assert [a.category for a in awards_for(db, person_id(db, "UALICE"))] == ["steady"]


def test_the_current_week_cannot_be_awarded(settings, db, fake, now, week_of_usage):
    report = post_week(
        db, slack_notifier(settings), award_config(settings), WEEK.next(), lambda: now
    )
    assert report.refused == "2026-W47 is not over yet"
    assert fake.calls == []


def test_a_persons_awards_come_newest_first(db, now):
    integration, _ = create_integration(db, "kiro", now)
    record_events(db, integration.id, [usage("UALICE", MONDAY, 1)], now)
    alice = person_id(db, "UALICE")
    store_awards(db, WEEK.previous().start, [NewAward(alice, "steady", "4 active days")], now)
    store_awards(db, WEEK.start, [NewAward(alice, "breadth", "2 tools, 4 kinds of work")], now)
    assert [(a.week_start, a.category) for a in awards_for(db, alice)] == [
        (WEEK.start, "breadth"),
        (WEEK.previous().start, "steady"),
    ]


def test_active_days_history_counts_days_per_earlier_week(db, now):
    integration, _ = create_integration(db, "kiro", now)
    events = [
        usage("UALICE", MONDAY - timedelta(days=7) + timedelta(days=d, hours=9), d)
        for d in range(3)
    ] + [usage("UALICE", MONDAY - timedelta(days=14, hours=-9), 10, requests=2)]
    events.append(usage("UALICE", MONDAY - timedelta(days=14, hours=-15), 11))
    record_events(db, integration.id, events, now)
    alice = person_id(db, "UALICE")
    starts = [WEEK.previous(1).start, WEEK.previous(2).start, WEEK.previous(3).start]
    assert active_days_history(db, starts) == {alice: [3, 1, 0]}


def test_shipped_work_wins_its_badge_but_never_for_a_flagged_week(
    settings, db, fake, week_of_usage, capsys, now
):
    integration, _ = create_integration(db, "claude-code", now)
    shipped = [
        usage(
            "UCAROL",
            MONDAY + timedelta(days=day, hours=11),
            day,
            tool="claude-code",
            kind="agent",
            input_tokens=10_000,
            commits=2,
            pull_requests=1 if day == 2 else None,
        )
        for day in range(3)
    ]
    shipped.append(  # the week before: Carol's baseline
        usage("UCAROL", MONDAY - timedelta(days=5), 9, tool="claude-code", input_tokens=10)
    )
    # Dave's looping week (flagged) reports far more shipped work; it must not count.
    shipped += [
        usage("UDAVE", MONDAY + timedelta(days=d, hours=4), 200 + d, tool="claude-code",
              input_tokens=50_000, commits=40, pull_requests=10)
        for d in range(3)
    ]  # fmt: skip
    shipped.append(usage("UDAVE", MONDAY - timedelta(days=5), 299, tool="claude-code"))
    record_events(db, integration.id, shipped, now)
    with freeze_time("2026-11-18 12:00:00"):
        assert main(["awards", "preview"]) == 0
    out = capsys.readouterr().out
    assert (
        ":package: *Shipped it*: <@UCAROL> (6 commits and 1 pull request made with AI, "
        "3 active days)" in out
    )
    assert "<@UDAVE>" not in out

"""Weekly award posts against a fake Slack over HTTP: exactly once per week and channel
through re-runs, concurrent runs, rate limits, failing channels and crashes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select, update
from starlette.testclient import TestClient

from bot.cli.main import main
from bot.composition import (
    award_config,
    build_scheduler,
    build_services,
    create_http_app,
    slack_notifier,
)
from bot.demo.fake_slack import FakeSlack
from bot.settings import SettingsError, load_settings
from jobs.award_rules import build_post
from jobs.awards import decide_week, post_key, post_week, scheduled_awards
from jobs.posting import Post, PostPolicy
from jobs.weeks import Week, last_complete_week
from storage.awards import active_days_history, awards_for, store_awards, week_awards
from storage.db import Database
from storage.events import record_events
from storage.integrations import create_integration
from storage.integrity import week_flags
from storage.models import PersonRow
from storage.post_models import LeaderboardStateRow
from storage.posts import claim_post, post_claims
from storage.records import NewAward, UsageEvent, UserRef

WEEK = Week(date(2026, 11, 9))  # the last complete week at the `now` fixture
MONDAY = datetime(2026, 11, 9, tzinfo=UTC)


@pytest.fixture
def fake():
    server = FakeSlack(channels={"CAWARDS", "CGENERAL", "CLOCKED"}, not_in={"CLOCKED"}).start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings, fake, monkeypatch):
    """Settings with a bot token, the fake Slack and two award channels."""
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS,CGENERAL")
    return load_settings()


def usage(user: str, at: datetime, n: int, **fields) -> UsageEvent:
    fields.setdefault("tool", "kiro")
    return UsageEvent(
        event_id=f"{user}-{n}", user=UserRef(slack_user_id=user), occurred_at=at, **fields
    )


@pytest.fixture
def week_of_usage(db, now):
    """Alice uses AI every weekday, Bob widely on three days, Dave runs a 60-second loop."""
    integration, _ = create_integration(db, "kiro", now)
    events = []
    for day in range(5):
        events.append(
            usage(
                "UALICE",
                MONDAY + timedelta(days=day, hours=10),
                day,
                tool="kiro",
                kind="inline_suggestion",
                input_tokens=3000,
                suggestions_shown=20,
                suggestions_accepted=9,
            )
        )
    # Bob's three days are sessions of several requests: three bare one-request events, a
    # week's whole use, are below the use every badge now asks for (20 requests' worth).
    for n, (day, tool, kind) in enumerate(
        [(0, "kiro", "chat"), (1, "copilot", "agent"), (2, "copilot", "completion")]
    ):
        at = MONDAY + timedelta(days=day, hours=14)
        events.append(usage("UBOB", at, n, tool=tool, kind=kind, requests=8, input_tokens=2000))
    for n in range(45):
        day = n % 6  # six active days, more than Alice
        at = MONDAY + timedelta(days=day, hours=3, seconds=60 * (n // 6))
        events.append(usage("UDAVE", at, n, tool="kiro", kind="chat"))
    loop_start = MONDAY + timedelta(days=6, hours=2)
    events += [
        usage("UDAVE", loop_start + timedelta(seconds=60 * i), 100 + i, tool="kiro", kind="chat")
        for i in range(40)
    ]
    record_events(db, integration.id, events, now)


def run(settings, db, clock):
    return post_week(db, slack_notifier(settings), award_config(settings), WEEK, clock)


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


def test_a_crash_between_posting_and_recording_does_not_post_again(
    settings, db, fake, now, week_of_usage
):
    # The crashed run: took the claim, decided and posted, died before recording the ts.
    store_awards(db, WEEK.start, [NewAward(person_id(db, "UALICE"), "steady", "5 days")], now)
    claim_post(db, post_key(WEEK), "CAWARDS", "crashed", now, timedelta(minutes=10))
    award = award_config(settings)
    awards = decide_week(db, WEEK, award, now, store=False).awards
    data = build_post(WEEK.label, WEEK.start, WEEK.end, awards, award.rules)
    ts = slack_notifier(settings).post("CAWARDS", Post(post_key(WEEK), data))

    soon = run(settings, db, lambda: now + timedelta(minutes=5))
    assert [(r.channel, r.status) for r in soon.results] == [
        ("CAWARDS", "busy"),
        ("CGENERAL", "posted"),
    ]
    later = run(settings, db, lambda: now + timedelta(minutes=11))
    assert [(r.channel, r.status, r.ts) for r in later.results] == [
        ("CAWARDS", "found", ts),
        ("CGENERAL", "already", fake.messages["CGENERAL"][0]["ts"]),
    ]
    assert len(fake.messages["CAWARDS"]) == 1
    history = fake.calls_to("conversations.history")
    assert history and history[0].params["include_all_metadata"] in (True, "true", "1")


def test_a_process_killed_after_slack_posted_is_not_followed_by_a_second_post(
    settings, db, fake, week_of_usage
):
    running: list[subprocess.Popen] = []

    def kill_the_poster(params) -> None:
        if params.get("channel") == "CAWARDS":
            running[0].kill()
            running[0].wait(10)

    fake.after("chat.postMessage", kill_the_poster)
    command = [sys.executable, "-m", "bot.cli.main", "awards", "post", "--week", WEEK.label]
    running.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    assert running[0].wait(30) == -signal.SIGKILL
    fake.after("chat.postMessage", lambda _params: None)
    [left] = post_claims(db, post_key(WEEK))
    assert (left.channel, left.status, left.ts) == ("CAWARDS", "claimed", None)

    restarted = datetime.now(UTC) + timedelta(minutes=11)
    report = run(settings, db, lambda: restarted)
    [posted] = fake.messages["CAWARDS"]
    assert [(r.channel, r.status, r.ts) for r in report.results] == [
        ("CAWARDS", "found", posted["ts"]),
        ("CGENERAL", "posted", fake.messages["CGENERAL"][0]["ts"]),
    ]
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_a_stale_claim_that_never_posted_is_posted_after_checking(
    settings, db, fake, now, week_of_usage
):
    claim_post(db, post_key(WEEK), "CAWARDS", "crashed", now, timedelta(minutes=10))
    report = run(settings, db, lambda: now + timedelta(minutes=11))
    assert [r.status for r in report.results] == ["posted", "posted"]
    assert len(fake.calls_to("conversations.history")) == 1
    assert len(fake.messages["CAWARDS"]) == 1


def statuses(report):
    return [r.status for r in report.results]


def test_a_server_error_after_slack_posted_is_checked_after_a_delay_not_reposted(
    settings, db, fake, now, week_of_usage
):
    fake.fail("chat.postMessage", status=500, channel="CAWARDS", apply=True)
    assert statuses(run(settings, db, lambda: now)) == ["unknown", "posted"]
    [claim, _] = post_claims(db, post_key(WEEK))
    assert (claim.status, claim.error) == ("unknown", "HTTP 500")
    assert claim.check_after == now + timedelta(seconds=45)
    # Not checked at once: the post may not show in history yet.
    assert statuses(run(settings, db, lambda: now + timedelta(seconds=30))) == [
        "unknown",
        "already",
    ]
    assert fake.calls_to("conversations.history") == []
    later = run(settings, db, lambda: now + timedelta(seconds=46))
    assert statuses(later) == ["found", "already"]
    assert len(fake.messages["CAWARDS"]) == 1
    assert post_claims(db, post_key(WEEK))[0].ts == fake.messages["CAWARDS"][0]["ts"]


def test_a_server_error_that_did_not_post_is_posted_after_the_check(
    settings, db, fake, now, week_of_usage
):
    fake.fail("chat.postMessage", status=503, channel="CAWARDS")
    assert statuses(run(settings, db, lambda: now)) == ["unknown", "posted"]
    assert statuses(run(settings, db, lambda: now + timedelta(minutes=1))) == [
        "posted",
        "already",
    ]
    assert len(fake.messages["CAWARDS"]) == 1
    assert len(fake.calls_to("chat.postMessage")) == 3
    assert len(fake.calls_to("conversations.history")) == 1


def test_a_dropped_connection_while_posting_is_verified_not_reposted(
    settings, db, fake, now, week_of_usage
):
    fake.fail("chat.postMessage", drop_connection=True, channel="CAWARDS", apply=True)
    assert statuses(run(settings, db, lambda: now)) == ["unknown", "posted"]
    assert statuses(run(settings, db, lambda: now + timedelta(minutes=1))) == [
        "found",
        "already",
    ]
    assert len(fake.messages["CAWARDS"]) == 1


def test_an_error_answer_to_a_post_slack_made_is_checked_before_posting_again(
    settings, db, fake, now, week_of_usage
):
    fake.fail("chat.postMessage", error="internal_error", channel="CAWARDS", apply=True)
    report = run(settings, db, lambda: now)
    assert [(r.status, r.error) for r in report.results] == [
        ("failed", "internal_error"),
        ("posted", None),
    ]
    assert statuses(run(settings, db, lambda: now + timedelta(minutes=1))) == [
        "found",
        "already",
    ]
    assert len(fake.messages["CAWARDS"]) == 1


def test_a_rate_limit_past_the_retries_waits_at_least_retry_after(
    settings, db, fake, now, week_of_usage, monkeypatch
):
    fake.fail("chat.postMessage", status=429, retry_after=1, channel="CAWARDS", times=6)
    report = run(settings, db, lambda: now)
    assert [(r.status, r.error) for r in report.results] == [
        ("failed", "ratelimited"),
        ("posted", None),
    ]
    assert report.results[0].retry_at == now + timedelta(seconds=45)
    assert statuses(run(settings, db, lambda: now + timedelta(minutes=1))) == [
        "posted",
        "already",
    ]
    assert len(fake.messages["CAWARDS"]) == 1


def test_the_check_reads_history_to_its_end(settings, db, fake, now, week_of_usage):
    fake.fail("chat.postMessage", status=500, channel="CAWARDS", apply=True)
    run(settings, db, lambda: now)
    # Busy channel: 2,500 later messages push the post past ten pages of history.
    for n in range(2500):
        fake.messages["CAWARDS"].insert(0, {"type": "message", "ts": f"1900000000.{n:06d}"})
    report = run(settings, db, lambda: now + timedelta(minutes=1))
    assert statuses(report) == ["found", "already"]
    assert len(fake.calls_to("conversations.history")) == 13
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_a_live_holder_keeps_its_claim_with_a_heartbeat(settings, db, fake, week_of_usage):
    # Real time: a lease of 0.4 s, renewed every 0.1 s, while Slack takes 1.5 s to answer.
    policy = PostPolicy(lease=timedelta(seconds=0.4), check_delay=timedelta(seconds=0.1))
    config = replace(award_config(settings), posting=policy)
    fake.delay("chat.postMessage", 1.5)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    notifier = slack_notifier(settings)
    first = threading.Thread(target=post_week, args=(db, notifier, config, WEEK, clock))
    first.start()
    fake.wait_for("chat.postMessage")
    threading.Event().wait(0.8)  # twice the lease: only the heartbeat keeps the claim
    second = post_week(db, notifier, config, WEEK, clock)
    first.join(10)
    # The first run still holds CAWARDS; CGENERAL it had not reached, so the second posts it.
    assert statuses(second) == ["busy", "posted"]
    assert len(fake.messages["CAWARDS"]) == 1 and len(fake.messages["CGENERAL"]) == 1


def retire(db) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(LeaderboardStateRow).values(status="retired"))


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


def test_cli_preview_prints_the_post_and_the_flags_and_posts_nothing(
    settings, db, fake, week_of_usage, capsys
):
    with freeze_time("2026-11-18 12:00:00"):
        assert main(["awards", "preview"]) == 0
    out = capsys.readouterr().out
    assert "Awards for 2026-W46 (not decided yet; as they would be now):" in out
    assert ":calendar: *Steady hand*: <@UALICE> (5 active days, 45% acceptance)" in out
    assert "UDAVE  regular_spacing: 40 requests 60.0 s apart from Sun 02:00 UTC" in out
    assert fake.calls == []
    assert week_awards(db, WEEK.start) == [] and week_flags(db, WEEK.start) == []


def test_cli_post_posts_once_and_says_so(settings, db, fake, week_of_usage, capsys):
    with freeze_time("2026-11-18 12:00:00"):
        assert main(["awards", "post", "--week", "2026-W46"]) == 0
        assert main(["awards", "post"]) == 0
    out = capsys.readouterr().out
    assert "CAWARDS: posted" in out and "CAWARDS: already" in out
    assert len(fake.calls_to("chat.postMessage")) == 2
    with freeze_time("2026-11-18 12:00:00"):
        assert main(["awards", "preview"]) == 0
    out = capsys.readouterr().out
    assert "Awards for 2026-W46 (as stored):" in out
    assert "<@UALICE>" in out and "UDAVE  regular_spacing" in out
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_cli_post_refuses_while_retired(settings, db, fake, week_of_usage, capsys):
    retire(db)
    with freeze_time("2026-11-18 12:00:00"):
        assert main(["awards", "post"]) == 1
    assert "the leaderboard is retired" in capsys.readouterr().err
    assert fake.calls == []


def test_serve_catches_up_a_missed_post_at_start_and_stops_the_scheduler(
    settings, db, fake, now, week_of_usage
):
    services = build_services(settings, clock=lambda: now)
    services.db = db
    scheduler = build_scheduler(services)
    with TestClient(create_http_app(services, scheduler=scheduler)):
        fake.wait_for("chat.postMessage", count=2)
    assert len(fake.messages["CAWARDS"]) == 1 and len(fake.messages["CGENERAL"]) == 1
    with TestClient(create_http_app(services, scheduler=build_scheduler(services))):
        pass  # nothing is due any more: no second post
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_a_bad_award_rules_file_stops_start_up_with_one_line(settings, monkeypatch, tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text("categories:\n  volume: {}\n")
    monkeypatch.setenv("AIUSAGE_AWARD_RULES", str(path))
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("AIUSAGE_AWARD_RULES: unknown award category 'volume'")


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


def test_serve_posts_a_missed_week_at_start_and_stops_cleanly_on_sigterm(settings, db, fake):
    # Real time here: `serve` runs on the production clock in its own process.
    week = last_complete_week(datetime.now(UTC), settings.timezone)
    integration, _ = create_integration(db, "kiro", datetime.now(UTC))
    events = [  # a week of real use (five bare requests win nothing now)
        usage(
            "UALICE",
            datetime.combine(day, time(10), UTC),
            i,
            kind="agent",
            requests=6,
            input_tokens=4000,
        )
        for i, day in enumerate(week.days()[:5])
    ]
    record_events(db, integration.id, events, datetime.now(UTC))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        fake.wait_for("chat.postMessage", count=2, timeout=20)
        server.send_signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM once its shutdown (our lifespan included) has finished.
        assert server.wait(30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    log = server.stderr.read().decode()
    assert "Application shutdown complete" in log and "Traceback" not in log
    assert f"AI badges for week {week.label}" in fake.messages["CAWARDS"][0]["text"]
    assert [c.status for c in post_claims(db, post_key(week))] == ["posted", "posted"]


def person_id(db: Database, slack_user_id: str) -> int:
    """The stored person's id for a Slack user."""
    with db.read() as conn:
        return conn.execute(
            select(PersonRow.id).where(PersonRow.slack_user_id == slack_user_id)
        ).scalar_one()


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

"""Award posts through crashes, killed processes, server errors, dropped connections and
slow answers: a post Slack may have made is looked for in history, never simply sent again."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.composition import award_config, slack_notifier
from jobs.award_rules import build_post
from jobs.awards import decide_week, post_key, post_week
from jobs.posting import Post, PostPolicy
from storage.awards import store_awards
from storage.posts import claim_post, post_claims
from storage.profiles import set_opted_out
from storage.records import NewAward
from tests.award_posting.helpers import WEEK, person_id, run, statuses


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


def test_a_winner_who_opts_out_after_a_killed_post_is_left_out_of_the_channels_to_come(
    settings, db, fake, week_of_usage
):
    """Killed once Slack had posted to the first channel; she opts out before the rerun,
    which finds that post (made before her opt-out, so left as it is) and names her nowhere
    else."""
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
    assert "UALICE" in fake.messages["CAWARDS"][0]["text"]

    restarted = datetime.now(UTC) + timedelta(minutes=11)
    set_opted_out(db, "UALICE", True, restarted)
    report = run(settings, db, lambda: restarted)
    assert (report.results[0].channel, report.results[0].status) == ("CAWARDS", "found")
    assert len(fake.messages["CAWARDS"]) == 1
    assert all("UALICE" not in str(m) for m in fake.messages["CGENERAL"])


def test_a_stale_claim_that_never_posted_is_posted_after_checking(
    settings, db, fake, now, week_of_usage
):
    claim_post(db, post_key(WEEK), "CAWARDS", "crashed", now, timedelta(minutes=10))
    report = run(settings, db, lambda: now + timedelta(minutes=11))
    assert [r.status for r in report.results] == ["posted", "posted"]
    assert len(fake.calls_to("conversations.history")) == 1
    assert len(fake.messages["CAWARDS"]) == 1


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


@pytest.mark.parametrize("retry_after", ["99999999", "61", "-5", "nan", "soon"])
def test_a_retry_after_past_a_minute_or_past_reading_is_handed_back_not_slept(
    settings, db, fake, now, week_of_usage, retry_after
):
    """The scheduled run waits out Slack's 429s, but only a plain wait of a minute or less:
    slack_sdk's own handler slept 99999999 s, and raised on `-5`, `nan` and `soon`. Such a
    429 is handed back, the post stays owed, the other channel gets its post now, and the
    next run posts the first one, once."""
    fake.fail("chat.postMessage", status=429, retry_after=retry_after, channel="CAWARDS")
    started = time.monotonic()
    report = run(settings, db, lambda: now)
    assert time.monotonic() - started < 5
    assert [(r.status, r.error) for r in report.results] == [
        ("failed", "ratelimited"),
        ("posted", None),
    ]
    assert statuses(run(settings, db, lambda: now + timedelta(minutes=10))) == [
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

"""Owed posts are re-driven until every channel has them once: announcements owed in the
same transaction as the retirement, award posts left unknown, and what the status shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from starlette.testclient import TestClient

from bot.cli.main import main
from bot.composition import (
    admin_config,
    award_config,
    build_scheduler,
    build_services,
    create_http_app,
    slack_notifier,
)
from bot.demo.fake_slack import FakeSlack
from bot.settings import load_settings
from bot.slack.views.admin import render_status
from jobs.admin import AdminService
from jobs.admin_rules import Actor, RetireDone
from jobs.awards import post_key, post_week, rebuild_award_post
from jobs.redrive import redrive
from storage.outbox import owe_post, pending_posts, recent_posts
from storage.posts import claim_post, post_claims
from tests.award_posting.helpers import WEEK
from tests.post_helpers import seed_award_week

ADMIN = Actor("UADMIN", via="cli")


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings, fake, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS,CGENERAL")
    return load_settings()


@pytest.fixture
def week_of_usage(db, now):
    """A week (2026-W46) with one badge to post."""
    seed_award_week(db, WEEK, now)


def redrive_now(settings, db, moment):
    config = award_config(settings)
    clock = lambda: moment  # noqa: E731
    return redrive(
        db,
        slack_notifier(settings),
        clock,
        rebuilders={"awards": rebuild_award_post(db, config, clock)},
        policy=config.posting,
    )


def test_an_announcement_is_owed_with_the_retirement_and_re_driven_once(settings, db, fake, now):
    # No notifier at confirm time (as if the process died right after the commit).
    service = AdminService(db, admin_config(settings), lambda: now, None)
    done = service.retire_now(ADMIN, "Thanks, all <!channel>")
    assert isinstance(done, RetireDone) and done.unposted == "SLACK_BOT_TOKEN is not set"
    [owed] = pending_posts(db)
    assert (owed.post_key, owed.kind, owed.channels) == (
        "retire:1",
        "announcement",
        ("CAWARDS", "CGENERAL"),
    )
    assert fake.calls == []

    [redriven] = redrive_now(settings, db, now + timedelta(minutes=1))
    assert [r.status for r in redriven.results] == ["posted", "posted"]
    assert "Thanks, all &lt;!channel&gt;" in fake.messages["CAWARDS"][0]["text"]
    assert pending_posts(db) == []
    assert redrive_now(settings, db, now + timedelta(minutes=2)) == []
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_a_restore_note_is_owed_with_the_restore(settings, db, fake, now):
    AdminService(db, admin_config(settings), lambda: now, slack_notifier(settings)).retire_now(
        ADMIN, "bye"
    )
    fake.fail("chat.postMessage", status=500, channel="CGENERAL")
    service = AdminService(db, admin_config(settings), lambda: now, slack_notifier(settings))
    restored = service.restore(ADMIN, "We are back")
    assert [r.status for r in restored.note_results] == ["posted", "unknown"]
    [owed] = pending_posts(db)
    assert owed.post_key.startswith("restore:")
    redrive_now(settings, db, now + timedelta(minutes=1))
    assert fake.messages["CGENERAL"][0]["text"].endswith("We are back")
    assert len(fake.messages["CAWARDS"]) == 2 and len(fake.messages["CGENERAL"]) == 2
    assert pending_posts(db) == []


def test_an_unknown_award_post_is_re_driven_and_retiring_cancels_what_is_still_owed(
    settings, db, fake, now, week_of_usage
):
    fake.fail("chat.postMessage", status=500, channel="CAWARDS", times=2)
    report = post_week(db, slack_notifier(settings), award_config(settings), WEEK, lambda: now)
    assert [r.status for r in report.results] == ["unknown", "posted"]
    # Due in 45 s: the re-drive leaves it until then, then checks and posts (500 again).
    assert [r.status for r in redrive_now(settings, db, now)[0].results] == [
        "unknown",
        "already",
    ]
    assert fake.calls_to("conversations.history") == []
    assert [r.status for r in redrive_now(settings, db, now + timedelta(minutes=1))[0].results] == [
        "unknown",
        "already",
    ]
    service = AdminService(db, admin_config(settings), lambda: now, slack_notifier(settings))
    service.retire_now(ADMIN, "stopping")
    awards = next(p for p in recent_posts(db, 5) if p.post_key == post_key(WEEK))
    assert (awards.status, awards.detail) == ("cancelled", "the leaderboard was retired")
    redrive_now(settings, db, now + timedelta(minutes=5))
    assert len(fake.messages["CAWARDS"]) == 1  # only the announcement
    assert "stopping" in fake.messages["CAWARDS"][0]["text"]


def test_the_status_shows_every_owed_post_channel_by_channel(
    settings, db, fake, now, week_of_usage, capsys
):
    fake.fail("chat.postMessage", status=502, channel="CAWARDS")
    post_week(db, slack_notifier(settings), award_config(settings), WEEK, lambda: now)
    with freeze_time(now):
        assert main(["admin", "status"]) == 0
    out = capsys.readouterr().out
    assert "  awards:2026-W46 pending 2026-11-18 12:00 (UTC)" in out
    assert "    CAWARDS: unknown (HTTP 502); checked again from 2026-11-18 12:00 (UTC)" in out
    assert "    CGENERAL: posted 2026-11-18 12:00 (UTC)" in out

    service = AdminService(db, admin_config(settings), lambda: now, None)
    text = str([b.to_dict() for b in render_status(service.status(ADMIN)).blocks])
    assert "`awards:2026-W46` pending" in text
    assert "<#CAWARDS>: unknown (HTTP 502); checked again from <!date^" in text


def test_serve_re_drives_owed_posts_at_start(settings, db, fake, now):
    AdminService(db, admin_config(settings), lambda: now, None).retire_now(ADMIN, "owed")
    services = build_services(settings, clock=lambda: now)
    services.db = db
    with TestClient(create_http_app(services, scheduler=build_scheduler(services))):
        fake.wait_for("chat.postMessage", count=2)
    assert [c.status for c in post_claims(db, "retire:1")] == ["posted", "posted"]
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_a_dead_holders_claim_is_retried_once_its_lease_runs_out(
    settings, db, fake, now, week_of_usage
):
    # A run owed the post, claimed CAWARDS and died before posting (default 60 s lease).
    owe_post(db, post_key(WEEK), "awards", None, ("CAWARDS", "CGENERAL"), now)
    claim_post(db, post_key(WEEK), "CAWARDS", "dead", now, timedelta(seconds=60))
    [early] = redrive_now(settings, db, now + timedelta(seconds=59))
    assert [r.status for r in early.results] == ["busy", "posted"]
    [late] = redrive_now(settings, db, now + timedelta(seconds=60))
    assert [r.status for r in late.results] == ["posted", "already"]
    assert len(fake.calls_to("conversations.history")) == 1  # the takeover looked first
    assert len(fake.messages["CAWARDS"]) == 1 and pending_posts(db) == []

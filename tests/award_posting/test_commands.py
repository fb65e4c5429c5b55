"""Award posts through the command line and `serve`: preview, post, refusal while retired,
the missed week caught up at start, and a bad rules file stopping start-up."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, time
from time import monotonic

import pytest
import yaml
from freezegun import freeze_time
from starlette.testclient import TestClient

from bot.cli.main import main
from bot.composition import (
    build_scheduler,
    build_services,
    create_http_app,
    redrive_job,
    slack_notifier,
)
from bot.settings import SettingsError, load_settings
from jobs.awards import post_key
from jobs.weeks import last_complete_week
from storage.awards import week_awards
from storage.events import record_events
from storage.integrations import create_integration
from storage.integrity import week_flags
from storage.posts import post_claims
from tests.award_posting.helpers import WEEK, retire, usage


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


def test_a_badge_title_at_length_or_naming_everyone_still_posts_and_pings_nobody(
    settings, db, fake, week_of_usage, monkeypatch, tmp_path, capsys
):
    # The rules file's title and rewards line went into the post as written: a title past
    # 3,000 characters failed every week's post (slack_sdk refused the section), and
    # `<!channel>` in either pinged the award channels each week.
    path = tmp_path / "rules.yml"
    title = "<!channel> Steady " + "hand " * 700
    path.write_text(
        yaml.safe_dump(
            {"rewards_line": "<!here> " + "y" * 3100, "categories": {"steady": {"title": title}}}
        )
    )
    monkeypatch.setenv("AIUSAGE_AWARD_RULES", str(path))
    with freeze_time("2026-11-18 12:00:00"):
        assert main(["awards", "post", "--week", "2026-W46"]) == 0, capsys.readouterr().err
    for channel in ("CAWARDS", "CGENERAL"):
        [message] = fake.messages[channel]
        assert "<!channel>" not in str(message) and "<!here>" not in str(message)
        [badge] = [b for b in message["blocks"] if "<@UALICE>" in str(b)]
        assert badge["text"]["text"].startswith(":calendar: *&lt;!channel&gt; Steady hand")
        assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if "text" in b)
        assert len(message["blocks"][-1]["elements"][0]["text"]) <= 3000


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


@pytest.mark.parametrize("retry_after", ["30", "0", "99999999", "-5", "nan", "soon"])
def test_cli_post_rate_limited_comes_back_at_once_and_serve_posts_once(
    settings, db, fake, week_of_usage, capsys, retry_after
):
    """`aiusage awards post` at the terminal: a 429 is handed back at once, said in one line
    and by exit 1; the post stays owed, and the re-drive `serve` runs makes it once."""
    fake.fail("chat.postMessage", status=429, retry_after=retry_after, channel="CAWARDS")
    with freeze_time("2026-11-18 12:00:00", tick=True) as clock:
        started = monotonic()
        assert main(["awards", "post"]) == 1
        assert monotonic() - started < 3.0  # the old code slept Retry-After out in line
        out = capsys.readouterr().out
        assert "  CAWARDS: rate-limited\n" in out and "  CGENERAL: posted" in out
        assert "Slack is rate-limiting posts just now; `aiusage serve` posts them shortly" in out
        services = build_services(settings)
        services.db = db
        redrive = redrive_job(services, slack_notifier(settings))
        clock.move_to("2026-11-18 12:06:00")  # past Retry-After, held to 5 minutes
        redrive()
        redrive()
    assert [(c.channel, c.status) for c in post_claims(db, post_key(WEEK))] == [
        ("CAWARDS", "posted"),
        ("CGENERAL", "posted"),
    ]
    assert len(fake.messages["CAWARDS"]) == 1 and len(fake.messages["CGENERAL"]) == 1
    assert len(fake.calls_to("chat.postMessage")) == 3

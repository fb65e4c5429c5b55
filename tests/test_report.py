"""`aiusage report` and `aiusage people link`: the figures out, and who they belong to."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from freezegun import freeze_time

from bot.cli.main import main
from storage.events import record_events
from storage.integrations import create_integration
from storage.people import link_email
from storage.records import UsageEvent, UserRef
from tests.builders import event
from tests.test_ingest_api import post

DATA = Path(__file__).parent / "data"


@pytest.fixture
def now() -> datetime:
    """Late enough that every event below is in the past."""
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def usage(client, api_key, db, run, now):
    """Claude Code events for UALICE in week 2026-W47 and one on the Monday after, plus a
    Copilot report for the 16th; Dana's Cursor email is known to Slack."""
    link_email(db, "dana@example.com", "UDANA", now)
    batch = [
        event(occurred_at="2026-11-16T09:00:00Z", input_tokens=100, output_tokens=10),
        event(
            occurred_at="2026-11-18T09:00:00Z",
            input_tokens=200,
            cost_usd=0.25,
            commits=3,
            pull_requests=1,
        ),
        event(occurred_at="2026-11-23T09:00:00Z", input_tokens=999),
    ]
    assert post(client, api_key, {"events": batch}).json()["accepted"] == 3
    assert run("import", "copilot", DATA / "copilot_users_1_day.ndjson")[0] == 0
    assert run("import", "cursor", DATA / "cursor_daily_usage.json")[0] == 1


def test_json_report_lists_people_then_unlinked_identities(run, usage):
    code, out, err = run("report", "--week", "2026-W47", "--format", "json")
    assert (code, err) == (0, "")
    rows = orjson.loads(out)
    assert [(r["slack_user_id"], r["identity"], r["tool"]) for r in rows] == [
        ("UALICE", None, "claude-code"),
        ("UDANA", None, "cursor"),
        (None, "copilot:hubot", "copilot"),
        (None, "copilot:octocat", "copilot"),
    ]
    alice = rows[0]
    assert alice == {
        "slack_user_id": "UALICE",
        "email": None,
        "identity": None,
        "tool": "claude-code",
        "requests": 2,
        "input_tokens": 300,
        "output_tokens": 60,
        "suggestions_shown": None,
        "suggestions_accepted": None,
        "lines_accepted": None,
        "cost_usd": 0.25,
        "active_days": 2,
        "commits": 3,
        "pull_requests": 1,
    }
    assert rows[1]["email"] == "dana@example.com"
    assert rows[1]["active_days"] == 2
    assert rows[1]["commits"] is None  # Cursor never reports shipped work: unknown, not 0


def test_csv_report_for_dates_includes_both_ends(run, usage):
    code, out, _ = run("report", "--from", "2026-11-18", "--to", "2026-11-23")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "slack_user_id",
        "email",
        "identity",
        "tool",
        "requests",
        "input_tokens",
        "output_tokens",
        "suggestions_shown",
        "suggestions_accepted",
        "lines_accepted",
        "cost_usd",
        "active_days",
        "commits",
        "pull_requests",
    ]
    [alice] = [r for r in rows if r["slack_user_id"] == "UALICE"]
    assert (alice["input_tokens"], alice["active_days"], alice["lines_accepted"]) == (
        "1199",
        "2",
        "",
    )
    assert (alice["commits"], alice["pull_requests"]) == ("3", "1")
    assert not [r for r in rows if r["tool"] == "copilot"]  # its only day was the 16th


def test_the_default_is_the_last_complete_week(run, usage):
    with freeze_time("2026-11-25 10:00:00"):
        code, out, _ = run("report", "--format", "json")
    assert code == 0
    [alice] = [r for r in orjson.loads(out) if r["slack_user_id"] == "UALICE"]
    assert alice["input_tokens"] == 300  # 2026-W47, not the Monday after


def test_bad_spans_are_refused(run, db):
    for argv in (
        ["--week", "2026-47"],
        ["--from", "2026-11-18"],
        ["--from", "2026-11-20", "--to", "2026-11-18"],
        ["--from", "18/11/2026", "--to", "2026-11-20"],
        ["--week", "2026-W47", "--to", "2026-11-20"],
    ):
        code, out, err = run("report", *argv)
        assert (code, out) == (2, ""), argv
        assert err.startswith("aiusage: ")


@pytest.mark.parametrize(
    "command", [["report"], ["awards", "preview"], ["awards", "post"]], ids=" ".join
)
@pytest.mark.parametrize("week", ["9999-W52", "0001-W01"])
def test_a_week_at_the_ends_of_the_calendar_is_refused_in_one_line(run, db, command, week):
    """Weeks around the one named are read too, and past year 9999 there are none."""
    code, out, err = run(*command, "--week", week)
    assert (code, out) == (2, "")
    assert err.startswith("aiusage: ") and err.count("\n") == 1
    assert err.endswith(f"weeks are of the years 2000 to 9998, not {int(week[:4])}\n")


@pytest.mark.parametrize("by", ["person", "team", "tool"])
@pytest.mark.parametrize(
    "span", [("9999-12-27", "9999-12-31"), ("0001-01-01", "0001-01-02")], ids=" to ".join
)
def test_dates_at_the_ends_of_the_calendar_are_refused_in_one_line(run, db, by, span):
    """As weeks are: a team's report reads the weeks the dates touch, past year 9999 too."""
    code, out, err = run("report", "--by", by, "--from", span[0], "--to", span[1])
    assert (code, out) == (2, "")
    assert err == f"aiusage: dates are of the years 2000 to 9998, not {int(span[0][:4])}\n"


def test_an_empty_period_is_a_header_or_an_empty_list(run, db):
    assert (
        run("report", "--week", "2026-W01")[1]
        == ",".join(
            [
                "slack_user_id",
                "email",
                "identity",
                "tool",
                "requests",
                "input_tokens",
                "output_tokens",
                "suggestions_shown",
                "suggestions_accepted",
                "lines_accepted",
                "cost_usd",
                "active_days",
                "commits",
                "pull_requests",
            ]
        )
        + "\n"
    )
    assert orjson.loads(run("report", "--week", "2026-W01", "--format", "json")[1]) == []


def test_linking_a_vendor_identity_makes_its_usage_count(run, usage, db):
    code, out, _ = run("people", "link", "copilot:OctoCat", "UOCTO")
    assert code == 0 and "copilot:octocat" in out
    rows = orjson.loads(run("report", "--week", "2026-W47", "--format", "json")[1])
    [octo] = [r for r in rows if r["slack_user_id"] == "UOCTO"]
    assert (octo["identity"], octo["tool"], octo["suggestions_shown"]) == (None, "copilot", 61)
    assert not [r for r in rows if r["identity"] == "copilot:octocat"]


def test_an_email_identity_can_be_linked_by_its_bare_address(run, db, now):
    integration, _ = create_integration(db, "api", now)
    record_events(
        db,
        integration.id,
        [
            UsageEvent(
                event_id="e1",
                user=UserRef(email="lee@example.com"),
                occurred_at=datetime(2026, 11, 18, 12, 0, tzinfo=UTC),
                tool="kiro",
            )
        ],
        now,
    )
    assert run("people", "link", "Lee@Example.com", "ULEE")[0] == 0
    rows = orjson.loads(run("report", "--week", "2026-W47", "--format", "json")[1])
    assert [(r["slack_user_id"], r["tool"], r["requests"]) for r in rows] == [("ULEE", "kiro", 1)]


def test_link_refuses_identities_and_users_it_cannot_read(run, db):
    for identity, user, message in [
        ("octocat", "UOCTO", "name the identity's kind"),
        ("github:octocat", "UOCTO", "unknown identity kind"),
        ("kiro:", "UOCTO", "no value"),
        ("copilot:octocat", "octocat", "not a Slack user ID"),
    ]:
        code, _, err = run("people", "link", identity, user)
        assert code == 2 and message in err, identity


def test_a_link_is_audited(settings, db, capsys):

    assert main(["people", "link", "copilot:octocat", "U012AB3CD"]) == 0
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "people.link" in out and "copilot:octocat -> U012AB3CD" in out


def test_a_reader_that_stops_early_ends_the_report_quietly(run, db, tmp_path):
    """`aiusage report | head -1`: the rest of the output has nowhere to go, so the command
    stops there, as Unix tools do, with the status a shell gives them (128 + SIGPIPE) and
    no traceback."""
    many = tmp_path / "many.csv"
    rows = (f"2026-11-16,user-{i},KIRO_IDE,{i % 9 + 1}" for i in range(5000))
    many.write_text("Date,UserId,Client_Type,Total_Messages\n" + "\n".join(rows) + "\n")
    assert run("import", "kiro", many)[0] == 0  # some 200 KB of report: past a pipe's buffer
    report = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "report", "--week", "2026-W47", "--format", "csv"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert report.stdout is not None and report.stderr is not None
    assert report.stdout.readline().startswith(b"slack_user_id,")
    report.stdout.close()
    assert report.wait(timeout=60) == 141
    assert report.stderr.read() == b""
    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["aiusage"] == "bot.cli.console_script:main"

"""Teams from a CSV and from Slack user groups, `teams list`, and `report --by team|tool`
through the real command line, on both databases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import orjson
import pytest

from bot.composition import build_scheduler, teams_job
from bot.settings import load_settings
from jobs.weeks import utcnow
from storage.admin import audit_log
from storage.events import record_events
from storage.integrations import create_integration
from storage.records import UsageEvent, UserRef
from storage.teams import team_people

HOSTILE = '=HYPERLINK("http://x")'


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def listed(run) -> list[dict[str, str]]:
    code, out, _ = run("teams", "list")
    assert code == 0
    return list(csv.DictReader(io.StringIO(out)))


def test_import_mixes_slack_ids_emails_and_vendor_logins_and_lists_sizes(run, tmp_path):
    path = write(
        tmp_path,
        "teams.csv",
        "team,member\nplatform,U001\nplatform,Ann@Example.com\nplatform,copilot:OctoCat\n"
        "platform,U001\nmobile,U001\n",
    )
    code, out, err = run("teams", "import", path)
    assert (code, err) == (0, "") and "2 teams with 4 memberships" in out
    rows = listed(run)
    assert [(r["team"], r["source"], r["members"], r["linked"]) for r in rows] == [
        ("mobile", "csv", "1", "1"),
        ("platform", "csv", "3", "1"),  # the email and login are not linked to anyone yet
    ]
    assert run("people", "link", "copilot:octocat", "U002")[0] == 0
    assert [r["linked"] for r in listed(run)] == ["1", "2"]


def test_a_reimport_replaces_every_imported_team(run, tmp_path, db):
    run("teams", "import", write(tmp_path, "a.csv", "team,member\nold,U001\nkept,U002\n"))
    run("teams", "import", write(tmp_path, "b.csv", "team,member\nkept,U003\n"))
    assert [(r["team"], r["members"]) for r in listed(run)] == [("kept", "1")]
    [kept] = team_people(db, [utcnow()])[0].values()
    assert len(kept) == 1
    actions = [(e.action, e.outcome) for e in audit_log(db)]
    assert actions == [("teams.import", "done"), ("teams.import", "done")]


def test_a_bad_line_imports_nothing_and_names_every_bad_line(run, tmp_path):
    run("teams", "import", write(tmp_path, "good.csv", "team,member\nkept,U001\n"))
    bad = write(
        tmp_path,
        "bad.csv",
        "team,member\nfine,U002\nother,U003\n,U004\nx,octocat\nx,U005,extra\n"
        "\u202eevil,U006\n" + "y" * 300 + ",U007\n",
    )
    code, out, err = run("teams", "import", bad)
    assert code == 1 and out == ""
    for line in (
        "line 3: 'other' is where",
        "line 4: the team name is empty",
        "line 5: name the identity's kind",
        "line 6: expected 2 fields",
        "line 7: the team name has control",
        "line 8: the team name is longer",
    ):
        assert line in err, line
    assert "nothing was imported" in err
    assert [r["team"] for r in listed(run)] == ["kept"]
    assert run("teams", "import", write(tmp_path, "h.csv", "name,user\n"))[0] == 1
    assert run("teams", "import", tmp_path / "missing.csv")[0] == 2


def test_hostile_team_names_are_kept_as_text_and_listed_spreadsheet_safe(run, tmp_path, db):
    text = 'team,member\n"<!channel> *bold*",U001\n"' + HOSTILE.replace('"', '""') + '",U002\n'
    assert run("teams", "import", write(tmp_path, "h.csv", text))[0] == 0
    assert set(team_people(db, [utcnow()])[0]) == {"<!channel> *bold*", HOSTILE}
    assert {r["team"] for r in listed(run)} == {"<!channel> *bold*", "'" + HOSTILE}


# -- user groups --------------------------------------------------------------------------------


@pytest.fixture
def groups_settings(slack_settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_TEAMS_FROM_USERGROUPS", "true")
    return load_settings()


def test_user_groups_become_teams_and_a_failed_refresh_keeps_them(
    groups_settings, services, fake_slack, db, run, tmp_path
):
    services.settings = groups_settings
    fake_slack.add_usergroup("S1", "platform-eng", ["U001", "U002", "not-a-user"])
    fake_slack.add_usergroup("S2", "old", ["U003"], disabled=True)
    fake_slack.add_usergroup("S3", "other", ["U004"])  # a name reserved for folding
    job = teams_job(services)
    assert job is not None
    result = job()
    assert (result.teams, result.members) == (1, 2) and "S3" in result.skipped[0]
    assert [(r["team"], r["source"], r["members"]) for r in listed(run)] == [
        ("platform-eng", "slack", "2")
    ]
    fake_slack.usergroups["S1"]["users"] = ["U001"]
    fake_slack.fail("usergroups.users.list", error="ratelimited")
    assert job() is None
    assert [r["members"] for r in listed(run)] == ["2"]  # unchanged
    job()
    assert [r["members"] for r in listed(run)] == ["1"]
    # An import of the CSV source leaves Slack's teams alone.
    run("teams", "import", write(tmp_path, "m.csv", "team,member\nmobile,U005\n"))
    assert {(r["team"], r["source"]) for r in listed(run)} == {
        ("platform-eng", "slack"),
        ("mobile", "csv"),
    }


def test_the_refresh_is_scheduled_only_when_turned_on(groups_settings, services, slack_settings):
    services.settings = groups_settings
    scheduler = build_scheduler(services)
    assert scheduler._teams_job is not None
    services.settings = slack_settings
    assert build_scheduler(services)._teams_job is None


# -- report --by team | tool --------------------------------------------------------------------


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def usage(db, now, run, tmp_path):
    """Week 2026-W47: six people in `platform` and four in `four` use claude-code; three of
    platform also use kiro; nobody else."""
    integration, _ = create_integration(db, "seed", now)
    events = []
    for i in range(1, 11):
        events.append(
            UsageEvent(
                event_id=f"c{i}",
                user=UserRef(slack_user_id=f"U{i:03d}"),
                occurred_at=datetime(2026, 11, 17, 9, tzinfo=UTC),
                tool="claude-code",
                requests=3,
                input_tokens=1000,
                output_tokens=10,
                cost_usd=1.25,
                commits=1,
            )
        )
    for i in range(1, 4):
        events.append(
            UsageEvent(
                event_id=f"k{i}",
                user=UserRef(slack_user_id=f"U{i:03d}"),
                occurred_at=datetime(2026, 11, 18, 9, tzinfo=UTC),
                tool=HOSTILE,
                requests=1,
            )
        )
    record_events(db, integration.id, events, now)
    rows = ["team,member", *[f"platform,U{i:03d}" for i in range(1, 7)]]
    rows += [f"four,U{i:03d}" for i in range(7, 11)]
    assert run("teams", "import", write(tmp_path, "t.csv", "\n".join(rows) + "\n"))[0] == 0


def test_by_tool_folds_a_tool_of_three_and_never_goes_below_five(run, usage):
    code, out, err = run("report", "--week", "2026-W47", "--by", "tool", "--format", "json")
    assert (code, err) == (0, "")
    rows = orjson.loads(out)
    # Three people's use of the hostile tool alone would be under five: it folds, taking
    # claude-code with it (an "other" of three beside claude-code would be them).
    assert [(r["tool"], r["people"], r["active_people"]) for r in rows] == [("other", 10, 10)]
    assert rows[0]["requests"] == 33 and rows[0]["cost_usd"] == 12.5
    assert all(r["active_people"] >= 5 for r in rows)


def test_by_team_folds_the_team_of_four_and_is_safe_in_a_spreadsheet(run, usage, monkeypatch):
    monkeypatch.setenv("AIUSAGE_MIN_GROUP_SIZE", "3")
    code, out, _ = run("report", "--week", "2026-W47", "--by", "team")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0])[:4] == ["team", "tool", "people", "active_people"]
    assert list(rows[0])[-3:] == ["active_days", "commits", "pull_requests"]
    got = [
        (r["team"], r["tool"], r["people"], r["active_people"], r["requests"], r["commits"])
        for r in rows
    ]
    assert got == [
        ("four", "claude-code", "4", "4", "12", "4"),
        ("platform", "'" + HOSTILE, "6", "3", "3", ""),  # shipped work not reported: empty
        ("platform", "claude-code", "6", "6", "18", "6"),
    ]
    monkeypatch.setenv("AIUSAGE_MIN_GROUP_SIZE", "5")
    rows = orjson.loads(run("report", "--week", "2026-W47", "--by", "team", "--format", "json")[1])
    # four folds; other would then be four people: platform folds too, into one "other".
    assert [(r["team"], r["tool"], r["active_people"]) for r in rows] == [("other", "other", 10)]


def test_a_period_with_fewer_people_than_the_minimum_is_empty(run, usage, monkeypatch):
    monkeypatch.setenv("AIUSAGE_MIN_GROUP_SIZE", "11")
    for by in ("team", "tool"):
        code, out, _ = run("report", "--week", "2026-W47", "--by", by, "--format", "json")
        assert (code, orjson.loads(out)) == (0, [])
    code, out, _ = run("report", "--week", "2026-W47", "--by", "team")
    assert out.startswith("team,tool,people,active_people,")


def test_a_team_one_week_would_fold_folds_for_the_whole_period(run, db, now, tmp_path):
    """Two weeks of `blip` minus its first week would be the one person active in the second:
    a team any week would fold folds for the whole period."""
    integration, _ = create_integration(db, "seed", now)

    def used(user: str, day: int, n: int) -> UsageEvent:
        return UsageEvent(f"{user}-{day}", UserRef(slack_user_id=user),
                          datetime(2026, 11, day, 9, tzinfo=UTC), "kiro", requests=n)  # fmt: skip

    steady = [f"US{i}" for i in range(6)]
    blip = [f"UB{i}" for i in range(6)]
    rest = [f"UR{i}" for i in range(5)]
    events = [used(u, d, 1) for u in steady + rest for d in (10, 17)]
    events += [used(u, 10, 1) for u in blip] + [used(blip[0], 17, 1000)]
    record_events(db, integration.id, events, now)
    rows = ["team,member", *[f"steady,{u}" for u in steady], *[f"blip,{u}" for u in blip]]
    assert run("teams", "import", write(tmp_path, "t.csv", "\n".join(rows) + "\n"))[0] == 0

    def teams(*span: str) -> dict[str, int]:
        code, out, _ = run("report", *span, "--by", "team", "--format", "json")
        assert code == 0
        return {r["team"]: r["requests"] for r in orjson.loads(out)}

    assert teams("--week", "2026-W46") == {"blip": 6, "steady": 6, "other": 5}
    assert teams("--week", "2026-W47") == {"steady": 6, "other": 1005}
    both = teams("--from", "2026-11-09", "--to", "2026-11-22")
    assert both == {"steady": 12, "other": 10 + 6 + 1000}

"""`report --by team|tool` twice, over periods a day or a week apart, through the real command
line on both databases: no two reports subtract to fewer people than the minimum.

Eng is five people. In week 2026-W46 (9 to 15 November) all five use kiro and copilot, 10
requests each a tool; in 2026-W47 (16 to 22 November) they use kiro on Monday, and only
Uma, the first of them, uses copilot, 777 requests on Tuesday."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from freezegun import freeze_time

from storage.events import record_events
from storage.integrations import create_integration
from storage.records import UsageEvent, UserRef

ENG = [f"U00{i}" for i in range(1, 6)]
LATER = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday: both weeks are over


def used(user: str, day: int, tool: str, requests: int) -> UsageEvent:
    return UsageEvent(
        event_id=f"{user}-{day}-{tool}",
        user=UserRef(slack_user_id=user),
        occurred_at=datetime(2026, 11, day, 9, tzinfo=UTC),
        tool=tool,
        requests=requests,
    )


@pytest.fixture
def two_weeks(db, now, run, tmp_path) -> Iterator[None]:
    """The usage above, eng's team file imported, and the clock after both weeks."""
    integration, _ = create_integration(db, "seed", now)
    events = [used(u, 9, tool, 10) for u in ENG for tool in ("kiro", "copilot")]
    events += [used(u, 16, "kiro", 10) for u in ENG] + [used(ENG[0], 17, "copilot", 777)]
    record_events(db, integration.id, events, now)
    teams = tmp_path / "teams.csv"
    teams.write_text("team,member\n" + "".join(f"eng,{u}\n" for u in ENG))
    assert run("teams", "import", teams)[0] == 0
    with freeze_time(LATER, tick=True):
        yield


def report(run, by: str, *span: str) -> tuple[dict[str, int], str]:
    """Requests per row (`team/tool` or `tool`), and what was said on stderr."""
    code, out, err = run("report", *span, "--by", by, "--format", "json")
    assert code == 0, err
    rows = orjson.loads(out)
    assert all(row["active_people"] >= 5 for row in rows)
    key = "{team}/{tool}" if by == "team" else "{tool}"
    return {key.format(**row): row["requests"] for row in rows}, err


@pytest.mark.parametrize("by", ["team", "tool"])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-11-16", "2026-11-17"),  # Monday to Tuesday ...
        ("2026-11-16", "2026-11-16"),  # ... minus Monday would be Uma's Tuesday
        ("2026-11-17", "2026-11-22"),  # from a Tuesday
        ("2026-11-09", "2026-11-21"),  # to a Saturday
    ],
)
def test_days_short_of_whole_weeks_are_refused_naming_the_weeks_to_ask_for(
    run, two_weeks, by, start, end
):
    code, out, err = run("report", "--from", start, "--to", end, "--by", by)
    assert (code, out) == (2, "")
    assert "cover whole ISO weeks (Monday to Sunday)" in err
    first = "2026-11-09" if start == "2026-11-09" else "2026-11-16"
    assert f"use --from {first} --to 2026-11-22, or --week" in err
    # Per person, days are still fine: those rows name the person anyway.
    assert run("report", "--from", start, "--to", end)[0] == 0


@pytest.mark.parametrize("by", ["team", "tool"])
def test_a_week_not_over_yet_is_refused(run, two_weeks, by):
    with freeze_time("2026-11-18T12:00:00Z", tick=True):  # Wednesday of 2026-W47
        code, out, err = run("report", "--week", "2026-W47", "--by", by)
        assert (code, out) == (2, "")
        assert "2026-W47 has not" in err and "end the period by 2026-11-15" in err
        assert run("report", "--week", "2026-W46", "--by", by)[0] == 0


def test_whole_weeks_that_are_over_are_reported(run, two_weeks):
    assert report(run, "tool", "--week", "2026-W46") == ({"copilot": 50, "kiro": 50}, "")
    assert report(run, "team", "--from", "2026-11-09", "--to", "2026-11-15") == (
        {"eng/copilot": 50, "eng/kiro": 50},
        "",
    )


@pytest.mark.parametrize("by", ["team", "tool"])
def test_a_tool_some_week_would_fold_folds_for_the_whole_period(run, two_weeks, by):
    """Two weeks of copilot minus its first week would be Uma's 777 requests alone. In
    2026-W47 copilot is one person's, so that week folds it, and kiro with it (an `other` of
    copilot alone would be her): over both weeks both fold."""
    prefix = "eng/" if by == "team" else ""
    week46, _ = report(run, by, "--week", "2026-W46")
    assert week46 == {f"{prefix}copilot": 50, f"{prefix}kiro": 50}
    week47, _ = report(run, by, "--week", "2026-W47")
    assert week47 == {f"{prefix}other": 50 + 777}
    both, err = report(run, by, "--from", "2026-11-09", "--to", "2026-11-22")
    assert (both, err) == ({f"{prefix}other": 100 + 50 + 777}, "")


@pytest.mark.parametrize("by", ["team", "tool"])
def test_a_week_fewer_than_the_minimum_used_is_left_out_and_said_to_be(db, now, run, two_weeks, by):
    """In 2026-W48 only Uma uses anything: a report with that week minus one without it
    would be her week. It is left out, and stderr says so."""
    integration, _ = create_integration(db, "late", now)
    record_events(db, integration.id, [used(ENG[0], 23, "kiro", 999)], now)
    with freeze_time("2026-12-02T12:00:00Z", tick=True):
        without, _ = report(run, by, "--from", "2026-11-09", "--to", "2026-11-22")
        with_it, err = report(run, by, "--from", "2026-11-09", "--to", "2026-11-29")
        assert with_it == without
        assert "left out 2026-W48: fewer than 5 people (AIUSAGE_MIN_GROUP_SIZE)" in err
        alone, err = report(run, by, "--week", "2026-W48")
        assert alone == {} and "left out 2026-W48" in err


@pytest.mark.parametrize(
    "files",
    [
        ["eng"],  # Uma leaves eng
        ["ops", "eng"],  # eng is dropped, then made again without her
        ["eng", "eng+uma", "eng"],  # she leaves, comes back and leaves again
    ],
)
def test_a_member_leaving_a_team_later_does_not_change_a_week_that_is_over(
    db, now, run, tmp_path, files
):
    """Eng is ten in 2026-W46, Uma's 1000 requests among them, with six people in no team.
    However she is taken out of eng afterwards, she still counts in eng's 2026-W46:
    otherwise the report before minus the one after would be her week."""
    uma, *rest = [f"UENG{i}" for i in range(10)]
    integration, _ = create_integration(db, "seed", now)
    events = [used(u, 10, "kiro", 1000 if u == uma else 10) for u in [uma, *rest]]
    events += [used(f"UOPS{i}", 10, "kiro", 10) for i in range(6)]
    record_events(db, integration.id, events, now)
    members = {"eng": rest, "eng+uma": [uma, *rest], "ops": ["UOPS0"]}
    teams = tmp_path / "teams.csv"

    def import_teams(name: str) -> None:
        team = name.split("+")[0]
        teams.write_text("team,member\n" + "".join(f"{team},{u}\n" for u in members[name]))
        assert run("teams", "import", teams)[0] == 0

    with freeze_time("2026-11-11T12:00:00Z"):  # during 2026-W46: eng is new, so always eng
        import_teams("eng+uma")
    with freeze_time(LATER, tick=True):
        before, _ = report(run, "team", "--week", "2026-W46")
        for name in files:
            import_teams(name)
        after, _ = report(run, "team", "--week", "2026-W46")
    assert before == {"eng/kiro": 1090, "other/kiro": 60}
    assert after == before


def test_a_period_sums_each_week_over_the_members_it_started_with(db, now, run, tmp_path):
    """Uma leaves eng during 2026-W46: that week she is still eng's, from 2026-W47 she is in
    no team, so her 2,000 requests of 2026-W47 are other's."""
    uma, *rest = [f"UENG{i}" for i in range(10)]
    ops = [f"UOPS{i}" for i in range(6)]
    integration, _ = create_integration(db, "seed", now)
    events = [used(u, 10, "kiro", 1000 if u == uma else 10) for u in [uma, *rest, *ops]]
    events += [used(u, 17, "kiro", 2000 if u == uma else 10) for u in [uma, *rest, *ops]]
    record_events(db, integration.id, events, now)
    teams = tmp_path / "teams.csv"
    for day, members in (("2026-11-11", [uma, *rest]), ("2026-11-12", rest)):
        with freeze_time(f"{day}T12:00:00Z"):
            teams.write_text("team,member\n" + "".join(f"eng,{u}\n" for u in members))
            assert run("teams", "import", teams)[0] == 0
    with freeze_time(LATER, tick=True):
        both, err = report(run, "team", "--from", "2026-11-09", "--to", "2026-11-22")
        assert (both, err) == ({"eng/kiro": 1090 + 90, "other/kiro": 60 + 2060}, "")
        assert report(run, "team", "--week", "2026-W47")[0] == {
            "eng/kiro": 90,
            "other/kiro": 2060,
        }


def test_a_team_named_after_a_week_ended_does_not_change_that_week(db, now, run, tmp_path):
    """Eng is nine from before 2026-W46; a team named later, eng plus Uma, starts when it is
    named. Counted since always, it gave the same ended week's report two answers that
    subtract to Uma's week (the pair rule folds only within one answer)."""
    uma, *rest = [f"UENG{i}" for i in range(10)]
    integration, _ = create_integration(db, "seed", now)
    events = [used(u, 10, "kiro", 1000 if u == uma else 10) for u in [uma, *rest]]
    events += [used(f"UOPS{i}", 10, "kiro", 10) for i in range(6)]
    record_events(db, integration.id, events, now)
    teams = tmp_path / "teams.csv"
    with freeze_time("2026-11-01T12:00:00Z"):  # the first teams: members since always
        teams.write_text("team,member\n" + "".join(f"eng,{u}\n" for u in rest))
        assert run("teams", "import", teams)[0] == 0
    with freeze_time(LATER, tick=True):
        before, _ = report(run, "team", "--week", "2026-W46")
        teams.write_text(
            "team,member\n"
            + "".join(f"eng,{u}\n" for u in rest)
            + "".join(f"platform,{u}\n" for u in [uma, *rest])
        )
        assert run("teams", "import", teams)[0] == 0
        after, _ = report(run, "team", "--week", "2026-W46")
    assert before == {"eng/kiro": 90, "other/kiro": 1060}
    assert after == before

"""Retention prunes ended team spells as it prunes the figures they grouped: a spell that
ended before the first week retention keeps began goes; open spells, and ended ones that
still count for a kept week (a week sums a team over its members as it starts), stay. On
both databases, through the daily retention job and `aiusage db prune`, and through a
prune killed with SIGKILL between two of its batches and run again."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from bot.cli.main import main
from bot.composition import build_scheduler
from storage.models import IdentityRow, TeamMemberRow, TeamRow

BERLIN = ZoneInfo("Europe/Berlin")
# With 30 days of daily figures kept, retention at Tuesday 2026-11-24 00:30 in Berlin keeps
# local days from Sunday 2026-10-25, so the week of Monday 2026-10-19 is still summed: over
# its members as it started, at 00:00 in Berlin, 2026-10-18 22:00 UTC.
PRUNE_AT = datetime(2026, 11, 24, 0, 30, tzinfo=BERLIN)
FIRST = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
JUST_BEFORE = datetime(2026, 10, 18, 21, 59, tzinfo=UTC)  # 23:59 on the Sunday before
JUST_AFTER = datetime(2026, 10, 18, 22, 30, tzinfo=UTC)  # 00:30 on the kept week's Monday
MIDWEEK = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)  # before the cutoff day, in that week


@pytest.fixture
def timezone() -> ZoneInfo:
    return BERLIN


@pytest.fixture
def settings(settings, monkeypatch):
    from bot.settings import load_settings

    monkeypatch.setenv("AIUSAGE_ROLLUP_RETENTION_DAYS", "30")
    return load_settings()


def import_teams(tmp_path, at: datetime, rows: str) -> None:
    path = tmp_path / "teams.csv"
    path.write_text("team,member\n" + rows)
    with freeze_time(at):
        assert main(["teams", "import", str(path)]) == 0


def people_come_and_go(tmp_path) -> None:
    """Ann leaves just before the oldest kept week starts and comes back just after; Bob
    leaves just after it starts, Cy in the middle of it; Dee stays; the team Old is dropped
    before it starts."""
    everyone = "Platform,UANN\nPlatform,UBOB\nPlatform,UCY\nPlatform,UDEE\nOld,UEVE\n"
    import_teams(tmp_path, FIRST, everyone)
    import_teams(tmp_path, JUST_BEFORE, "Platform,UBOB\nPlatform,UCY\nPlatform,UDEE\n")
    import_teams(tmp_path, JUST_AFTER, "Platform,UANN\nPlatform,UCY\nPlatform,UDEE\n")
    import_teams(tmp_path, MIDWEEK, "Platform,UANN\nPlatform,UDEE\n")


def spells(db) -> list[tuple[str, str, datetime | None, datetime | None]]:
    with db.read() as conn:
        rows = conn.execute(
            select(TeamRow.name, IdentityRow.value, TeamMemberRow.since, TeamMemberRow.until)
            .join(TeamRow, TeamRow.id == TeamMemberRow.team_id)
            .join(IdentityRow, IdentityRow.id == TeamMemberRow.identity_id)
            .order_by(TeamRow.name, IdentityRow.value, TeamMemberRow.id)
        ).all()
    return [tuple(row) for row in rows]


def test_the_daily_job_prunes_spells_that_ended_before_the_oldest_kept_week(
    settings, db, services, tmp_path
):
    people_come_and_go(tmp_path)
    services.clock = lambda: PRUNE_AT.astimezone(UTC)

    counts = build_scheduler(services).retention_job()

    assert counts["team_spells"] == 2  # Ann's first spell and Eve's in Old
    assert spells(db) == [
        ("Platform", "UANN", JUST_AFTER, None),
        ("Platform", "UBOB", None, JUST_AFTER),  # counted in the kept week: it started then
        ("Platform", "UCY", None, MIDWEEK),  # a cut by day would have taken this one
        ("Platform", "UDEE", None, None),
    ]


def test_db_prune_says_how_many_spells_went_and_zero_keeps_them_forever(
    settings, db, tmp_path, capsys, monkeypatch
):
    people_come_and_go(tmp_path)
    before = spells(db)
    monkeypatch.setenv("AIUSAGE_ROLLUP_RETENTION_DAYS", "0")
    with freeze_time(PRUNE_AT):
        assert main(["db", "prune"]) == 0
    assert "deleted 0 ended team memberships" in capsys.readouterr().out
    assert spells(db) == before

    monkeypatch.setenv("AIUSAGE_ROLLUP_RETENTION_DAYS", "30")
    with freeze_time(PRUNE_AT):
        assert main(["db", "prune"]) == 0
    assert "deleted 2 ended team memberships" in capsys.readouterr().out
    with freeze_time(PRUNE_AT):
        assert main(["db", "prune"]) == 0
    assert "deleted 0 ended team memberships" in capsys.readouterr().out


# Retention as the daily job runs it, at PRUNE_AT, one row a batch, in a process of its own;
# with "pause" it stops to be killed once its first ended spell is deleted.
PRUNE_ONE_ROW_A_BATCH = """
import sys, time
from datetime import datetime
from sqlalchemy import func, select
from bot.settings import load_settings
from jobs.retention import cutoffs
from storage.db import Database
from storage.models import TeamMemberRow
from storage.retention import prune

settings = load_settings()
db = Database(settings.database_url, settings.timezone)

def spells():
    with db.read() as conn:
        return conn.scalar(select(func.count()).select_from(TeamMemberRow))

first = spells()

def on_batch():
    if sys.argv[2] == "pause" and spells() < first:
        print("an ended spell is deleted", flush=True)
        time.sleep(60)

prune(db, cutoffs(settings.retention(), datetime.fromisoformat(sys.argv[1])), batch=1,
      on_batch=on_batch)
"""


def test_a_prune_killed_between_batches_finishes_when_run_again(settings, db, tmp_path):
    """Each batch commits on its own, so a prune killed with SIGKILL halfway has deleted
    some ended spells and nothing else; run again, it deletes the rest and ends where an
    unbroken run would."""
    people_come_and_go(tmp_path)
    assert len(spells(db)) == 6

    def prune_at(mode: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-c", PRUNE_ONE_ROW_A_BATCH, PRUNE_AT.isoformat(), mode]
        return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tmp_path)

    killed = prune_at("pause")
    try:
        assert killed.stdout is not None
        assert killed.stdout.readline() == "an ended spell is deleted\n"
    finally:
        killed.kill()  # SIGKILL
        killed.wait(30)
    assert len(spells(db)) == 5  # one of the two ended spells, and nothing more

    again = prune_at("through")
    assert again.wait(60) == 0
    assert spells(db) == [
        ("Platform", "UANN", JUST_AFTER, None),
        ("Platform", "UBOB", None, JUST_AFTER),
        ("Platform", "UCY", None, MIDWEEK),
        ("Platform", "UDEE", None, None),
    ]

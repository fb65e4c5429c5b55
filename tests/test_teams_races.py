"""Two `aiusage teams import` runs at once on PostgreSQL (a cron's and an operator's): each
ends, and the teams are what one of the two files says, as when they run one after the other.
The test holds a row of its own so that their transactions overlap, every time. SQLite takes
one writer at a time."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import insert

from storage.models import TeamRow
from tests.fault_helpers import AIUSAGE, wait_until
from tests.org_weekly_helpers import cli
from tests.pg_stalls import holding_rows, waiting_on_locks


@pytest.fixture(autouse=True)
def postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite takes one writer at a time")


def _start(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [AIUSAGE, "teams", "import", str(path)],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _ended(*procs: subprocess.Popen[bytes]) -> list[tuple[int, str]]:
    return [(proc.wait(120), proc.communicate()[1].decode()) for proc in procs]


def _teams_file(path: Path, teams: list[tuple[str, list[str]]]) -> Path:
    rows = [f"{team},{member}" for team, members in teams for member in members]
    path.write_text("team,member\n" + "\n".join(rows) + "\n")
    return path


def _listed(capsys) -> list[tuple[str, str]]:
    capsys.readouterr()
    cli("teams", "list")
    rows = csv.DictReader(io.StringIO(capsys.readouterr().out))
    return [(row["team"], row["members"]) for row in rows]


def test_two_imports_naming_new_teams_in_another_order_both_end(
    db, settings, tmp_path, now, capsys
):
    """An HR export read by two runs whose files list the same new teams in another order:
    each run makes its teams in its file's order. The first makes red and then waits for
    green, which another transaction (the test's) is making; the second makes blue and waits
    for green too. When green is free, each waited on the team the other had made: one was
    ended by PostgreSQL's deadlock detector, the import failing."""
    teams = [("red", ["U0RED1"]), ("green", ["U0GREEN1"]), ("blue", ["U0BLUE1"])]
    forward = _teams_file(tmp_path / "forward.csv", teams)
    backward = _teams_file(tmp_path / "backward.csv", teams[::-1])
    with db.engine.connect() as holding:
        holding.execute(insert(TeamRow).values(name="green", source="csv", updated_at=now))
        first = _start(forward)
        wait_until("the first import waiting", lambda: waiting_on_locks(db) == 1, timeout=60)
        second = _start(backward)
        wait_until("the second import waiting", lambda: waiting_on_locks(db) == 2, timeout=60)
        holding.rollback()
    assert _ended(first, second) == [(0, ""), (0, "")]
    assert _listed(capsys) == [("blue", "1"), ("green", "1"), ("red", "1")]


def test_two_imports_of_other_teams_leave_one_files_teams(db, settings, tmp_path, capsys):
    """Teams red (imported before), then two runs at once: one of a file of team blue only,
    one of red with a member more. Both start while red's row is held by another transaction
    (the test's), so each read the teams there were before the other wrote: the second kept
    blue, which the first had made and which its own file no longer gives, and the teams
    were neither file's."""
    cli("teams", "import", _teams_file(tmp_path / "before.csv", [("red", ["U0RED1"])]))
    blue = _teams_file(tmp_path / "blue.csv", [("blue", ["U0BLUE1"])])
    red = _teams_file(tmp_path / "red.csv", [("red", ["U0RED1", "U0RED2"])])
    with holding_rows(settings.database_url, "SELECT id FROM teams WHERE name = 'red'"):
        first = _start(blue)
        wait_until("the first import waiting", lambda: waiting_on_locks(db) == 1, timeout=60)
        second = _start(red)
        wait_until("the second import waiting", lambda: waiting_on_locks(db) == 2, timeout=60)
    assert _ended(first, second) == [(0, ""), (0, "")]
    assert _listed(capsys) == [("red", "2")]

"""`aiusage people import` killed with SIGKILL part way, then run again: killed while its file
is still arriving (a FIFO the test writes), it has linked nothing; killed while Slack holds
the look-up of one row's email, the rows before it are linked, that row not at all; run again
on the whole file, the identities are linked as one clean import links them, each once.
Real `aiusage` processes, on both databases, as in `tests/test_cli_kills.py`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo.fake_slack import FakeSlack
from storage.db import Database
from storage.models import PersonRow
from tests.fault_helpers import (
    Aiusage,
    held_call_runner,
    killed_while_slack_holds,
    open_for_writing,
    wait_until,
)
from tests.people_import_helpers import links

ROWS = 1200
LOOKED_UP = 600  # this row's slack_user is an email only Slack knows: the import asks Slack
# Each identity padded so the file is past a pipe's 64 KiB buffer: the test's write of more
# than that returns only once the import is reading it.
PAD = "x" * 48


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack()
    server.add_user("ULATE", email="late@example.com")
    yield server.start()
    server.stop()


@pytest.fixture
def procs(database_url: str, fake: FakeSlack, tmp_path: Path) -> Iterator[Aiusage]:
    runner = held_call_runner(database_url, fake.api_url, tmp_path, "xoxb-people-import")
    yield runner
    runner.stop_all()


def slack_user(n: int) -> str:
    return "late@example.com" if n == LOOKED_UP else f"U{n:07d}"


def people_file() -> bytes:
    lines = ["identity,slack_user"]
    lines += [f"copilot:user-{n:05d}-{PAD},{slack_user(n)}" for n in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def clean_import(rows: range) -> dict[tuple[str, str], str]:
    """Each identity of `rows` and the Slack user it counts for, as a clean import links
    them (with the email Slack named for the looked-up row linked too)."""
    linked = {("copilot", f"user-{n:05d}-{PAD}"): slack_user(n) for n in rows}
    if LOOKED_UP in rows:
        linked[("copilot", f"user-{LOOKED_UP:05d}-{PAD}")] = "ULATE"
        linked[("email", "late@example.com")] = "ULATE"
    return linked


def people(db: Database) -> list[str]:
    with db.read() as conn:
        return sorted(conn.scalars(select(PersonRow.slack_user_id)))


def test_a_people_import_killed_mid_file_links_each_identity_once_when_run_again(
    db, settings, fake, procs, tmp_path
):
    whole = people_file()
    fifo = tmp_path / "people-fifo.csv"
    os.mkfifo(fifo)
    importing = procs.start("people", "import", str(fifo))
    writer = wait_until("the import to open its file", lambda: open_for_writing(fifo, importing))
    try:
        os.write(writer, whole[: 2**16 + 2**12])  # returns once the import has read some
        assert importing.poll() is None
        procs.kill(importing)
    finally:
        os.close(writer)
    assert links(db) == {} and people(db) == []  # half a file links nothing

    path = tmp_path / "people.csv"
    path.write_bytes(whole)
    command = ("people", "import", str(path))
    killed_while_slack_holds(fake, procs, "users.lookupByEmail", command, wait=60)
    assert links(db) == clean_import(range(LOOKED_UP))  # the rows before it, whole
    # The audit log has the run that linked them (the half-read file's run linked nothing).
    [started] = import_audit(procs)
    assert f" started    {ROWS} rows from {path}" in started

    fake.before("users.lookupByEmail", lambda _params: True)
    code, output = procs.run("people", "import", str(path), timeout=120)
    assert code == 0, output
    assert f"Linked {ROWS} identities" in output
    assert links(db) == clean_import(range(ROWS))
    everyone = [f"U{n:07d}" for n in range(ROWS) if n != LOOKED_UP] + ["ULATE"]
    assert people(db) == sorted(everyone)  # a person each, none twice
    _killed, again, done = import_audit(procs)
    assert " started " in again and f" done       {ROWS} linked, 0 rejected from {path}" in done


def import_audit(procs: Aiusage) -> list[str]:
    """The `people.import` lines of `aiusage audit`, oldest first."""
    code, output = procs.run("audit")
    assert code == 0, output
    return [line for line in output.splitlines() if " people.import " in line]

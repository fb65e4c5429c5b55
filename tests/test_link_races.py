"""A link an admin makes while usage of the same identity is being ingested, on PostgreSQL,
where their transactions overlap: the ingest's own linking (an identity to the person who has
its email) never undoes the admin's. The test holds the identity's row itself so that the
writers queue on it in a known order, every time. SQLite takes one writer at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import cli_actor
from bot.demo.fake_slack import FakeSlack
from storage.models import IdentityRow, PersonRow
from tests.fault_helpers import Aiusage, held_call_runner, wait_until
from tests.org_weekly_helpers import cli, cursor_report
from tests.pg_stalls import holding_rows, waiting_on_locks

DAY = date(2026, 8, 3)
ADA = "ada@example.com"


@pytest.fixture(autouse=True)
def postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite takes one writer at a time")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack()
    server.add_user("UADA", email=ADA)
    yield server.start()
    server.stop()


@pytest.fixture
def procs(settings, fake: FakeSlack, tmp_path: Path) -> Iterator[Aiusage]:
    runner = held_call_runner(settings.database_url, fake.api_url, tmp_path, "xoxb-link-races")
    yield runner
    runner.stop_all()


def _ok(procs: Aiusage, number: int, process) -> None:
    assert process.wait(120) == 0, procs.output(number)


def _link_of(db, email: str) -> tuple[str | None, str | None]:
    with db.read() as conn:
        return conn.execute(
            select(PersonRow.slack_user_id, IdentityRow.linked_by)
            .join(PersonRow, PersonRow.id == IdentityRow.person_id, isouter=True)
            .where(IdentityRow.kind == "email", IdentityRow.value == email)
        ).one()


def test_an_admin_link_made_while_the_email_is_ingested_stands(db, settings, procs, tmp_path):
    """Ada's email has usage nobody is linked to yet. A `people import` asks Slack whose it
    is (Ada's), records it as her email, and is linking it; an admin meanwhile links it to
    Ben with `people link`; a report of the email's usage is imported meanwhile too, which
    read the identity as unlinked and Ada as its person. Each of the three waits on the
    identity's row (held by the test), in that order. The admin's link is the last word:
    the import's link to Ada, made from what it read before the admin committed, replaced it."""
    first = tmp_path / "cursor-1.json"
    cursor_report(first, [(DAY, "ada", 3)])
    cli("import", "cursor", first)
    assert _link_of(db, ADA) == (None, None)
    later = tmp_path / "cursor-2.json"
    cursor_report(later, [(date(2026, 8, 4), "ada", 5)])
    people = tmp_path / "people.csv"
    people.write_text(f"identity,slack_user\ncopilot:ada-gh,{ADA}\n")
    held = f"SELECT id FROM identities WHERE kind = 'email' AND value = '{ADA}'"
    with holding_rows(settings.database_url, held):
        lookup = procs.start("people", "import", str(people))
        wait_until("the people import waiting", lambda: waiting_on_locks(db) == 1, timeout=60)
        admin = procs.start("people", "link", ADA, "UBEN")
        wait_until("the admin's link waiting", lambda: waiting_on_locks(db) == 2, timeout=60)
        ingest = procs.start("import", "cursor", str(later))
        wait_until("the import waiting", lambda: waiting_on_locks(db) == 3, timeout=60)
    for number, process in enumerate((lookup, admin, ingest), start=1):
        _ok(procs, number, process)
    assert _link_of(db, ADA) == ("UBEN", cli_actor())


def test_an_admin_link_made_while_slack_names_the_email_stands(db, settings, procs, tmp_path):
    """Ada's email has usage nobody is linked to yet. An admin links it to Ben, and waits on
    the identity's row (held by the test); a `people import` meanwhile asks Slack whose the
    email is (Ada's), records it as her email, and waits to link it. The admin's link came
    first, so the email counts for another Slack user when the look-up links it: as
    `link_email` says, it stays where it is. (The look-up had checked before the admin's
    link and linked after it, replacing it.)"""
    first = tmp_path / "cursor-1.json"
    cursor_report(first, [(DAY, "ada", 3)])
    cli("import", "cursor", first)
    people = tmp_path / "people.csv"
    people.write_text(f"identity,slack_user\ncopilot:ada-gh,{ADA}\n")
    held = f"SELECT id FROM identities WHERE kind = 'email' AND value = '{ADA}'"
    with holding_rows(settings.database_url, held):
        admin = procs.start("people", "link", ADA, "UBEN")
        wait_until("the admin's link waiting", lambda: waiting_on_locks(db) == 1, timeout=60)
        lookup = procs.start("people", "import", str(people))
        wait_until("the people import waiting", lambda: waiting_on_locks(db) == 2, timeout=60)
    for number, process in enumerate((admin, lookup), start=1):
        _ok(procs, number, process)
    assert _link_of(db, ADA) == ("UBEN", cli_actor())

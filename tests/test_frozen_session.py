"""PostgreSQL: a real `aiusage` process frozen (SIGSTOP) in the middle of a transaction that
holds row locks. The server ends its session once it has sat idle in the transaction past
`storage.engine.IDLE_IN_TRANSACTION_TIMEOUT_MS`, and the locks go with it; before, they were
held for as long as the process stayed frozen, and every batch of the person's usage queued
on them. Thawed, the command fails having committed nothing, and run again it finishes."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text

from bot.cli.main import main
from storage.db import Database
from storage.models import IdentityRow, PersonRow
from tests.fault_helpers import Aiusage, wait_until
from tests.test_cli_kills import _sessions, _waiting, alice_stored, alice_with_usage

pytestmark = pytest.mark.postgres

# The limit the frozen command runs under: as production's, made short so the test takes
# seconds (the constant is read when the command makes its engine).
IDLE_MS = 2_000
COMMAND = (
    "import sys, storage.engine; "
    f"storage.engine.IDLE_IN_TRANSACTION_TIMEOUT_MS = {IDLE_MS}; "
    "from bot.cli.console_script import main; sys.exit(main())"
)


@pytest.fixture
def procs(database_url: str, tmp_path: Path) -> Iterator[Aiusage]:
    runner = Aiusage({"AIUSAGE_DATABASE_URL": database_url}, tmp_path)
    yield runner
    runner.stop_all()


def start_with_short_limit(procs: Aiusage, *args: str) -> subprocess.Popen[bytes]:
    """`aiusage ARGS`, as the console script runs it, under the short idle limit."""
    procs.count += 1
    log = (procs.logs / f"{procs.count:02d}-{args[0]}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", COMMAND, *args],
        env=procs.env,
        cwd=procs.logs,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    procs.running.append(process)
    return process


def her_identities_free(db: Database) -> bool:
    """Whether her identity rows can be locked at once (a batch of her usage takes a key
    share lock on them, which waits while a forget holds them)."""
    with db.engine.connect() as conn:
        try:
            conn.execute(
                select(IdentityRow.id)
                .where(IdentityRow.value == "alice@example.com")
                .with_for_update(nowait=True)
            ).all()
        except sa_exc.OperationalError:
            return False
        finally:
            conn.rollback()
    return True


def _state(db: Database, name: str) -> str | None:
    with db.engine.connect() as conn:
        return conn.scalar(
            text("SELECT state FROM pg_stat_activity WHERE application_name = :n"), {"n": name}
        )


def test_a_forget_frozen_holding_her_rows_lets_them_go_after_the_idle_limit(
    db, settings, procs, tmp_path, now, database_url
):
    """The forget locks her identities and waits for her person row, which the test holds;
    frozen there, it gets the row as the test lets go, and sits in its transaction with both
    locked. The server ends that session after the idle limit: her rows are free again."""
    if db.is_sqlite:
        pytest.skip("SQLite's locks are the process's own; a frozen one holds the file")
    alice_with_usage(db, tmp_path, now)
    name = f"aiusage-frozen-{uuid.uuid4().hex[:8]}"
    procs.env["AIUSAGE_DATABASE_URL"] = f"{database_url}&application_name={name}"
    with db.engine.connect() as holding:
        holding.execute(
            select(PersonRow.id).where(PersonRow.slack_user_id == "UALICE").with_for_update()
        ).all()
        forget = start_with_short_limit(procs, "people", "forget", "UALICE")
        wait_until("the forget to wait for her person row", lambda: _waiting(db, name), 60)
        forget.send_signal(signal.SIGSTOP)
        try:
            holding.rollback()  # her row: the frozen forget's session takes it, and idles
            wait_until(
                "the frozen forget to hold her rows",
                lambda: _state(db, name) == "idle in transaction",
                IDLE_MS / 1000,
            )
            assert not her_identities_free(db)  # held: a batch of her usage would wait here
            wait_until("her rows let go", lambda: her_identities_free(db), IDLE_MS / 1000 + 10)
            assert not _sessions(db, name)
        finally:
            forget.send_signal(signal.SIGCONT)
    # Thawed, it finds its session ended: it fails, having committed nothing.
    assert forget.wait(30) != 0, procs.output(procs.count)
    assert alice_stored(db) == (1, 2, 1)

    assert main(["people", "forget", "UALICE"]) == 0
    assert alice_stored(db) == (0, 0, 0)

"""`Database.reading_together`: a slash command's reads share one transaction, whichever way
they run (compiled on the driver's cursor, or through SQLAlchemy), and leave nothing open."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import PersonRow
from storage.profiles import find_slack_profile, save_slack_profile
from storage.readers import READERS_KEPT


def _people(db: Database) -> int:
    with db.read() as conn:
        return len(conn.execute(select(PersonRow.id)).all())


def _save_elsewhere(db: Database, user: str, now) -> None:  # type: ignore[no-untyped-def]
    # Another thread, so another connection: what a second request would do meanwhile.
    thread = threading.Thread(
        target=save_slack_profile,
        args=(db, user),
        kwargs={"display_name": user, "tz": None, "is_workspace_admin": False, "now": now},
    )
    thread.start()
    thread.join()


@pytest.mark.postgres
def test_reads_inside_see_one_snapshot_and_what_lands_after_it(db: Database, now) -> None:  # type: ignore[no-untyped-def]
    save_slack_profile(
        db, "UFIRST", display_name="First", tz=None, is_workspace_admin=False, now=now
    )
    with db.reading_together():
        assert find_slack_profile(db, "UFIRST") is not None  # compiled, on the driver's cursor
        _save_elsewhere(db, "ULATER", now)
        # SQLite keeps the first read's snapshot; PostgreSQL's READ COMMITTED gives each
        # statement its own, in the same transaction.
        snapshot = db.is_sqlite
        assert (find_slack_profile(db, "ULATER") is None) == snapshot
        assert _people(db) == (1 if snapshot else 2)  # through SQLAlchemy, the same way
    assert find_slack_profile(db, "ULATER") is not None
    assert _people(db) == 2


@pytest.mark.postgres
def test_nothing_is_left_open_after_the_block_ends_or_fails(db: Database, now) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError), db.reading_together():
        _people(db)
        raise RuntimeError("the answer failed")
    # A writer gets the write lock at once: no read transaction was left holding a snapshot.
    save_slack_profile(db, "UNEXT", display_name=None, tz=None, is_workspace_admin=False, now=now)
    with db.reading_together():
        assert find_slack_profile(db, "UNEXT") is not None
    with db.engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        if db.is_sqlite:
            assert driver is not None and not driver.in_transaction  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_a_write_inside_is_refused(db: Database, now) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AssertionError, match="inside reading_together"), db.reading_together():
        save_slack_profile(db, "UX", display_name=None, tz=None, is_workspace_admin=False, now=now)


@pytest.mark.postgres
def test_each_block_sees_what_landed_before_it_began(db: Database, now) -> None:  # type: ignore[no-untyped-def]
    # On SQLite the blocks' connections are kept between uses (`storage.readers`): a kept
    # one must never carry a snapshot, or a transaction SQLAlchemy began, into the next.
    save_slack_profile(db, "UFIRST", display_name=None, tz=None, is_workspace_admin=False, now=now)
    for n, user in enumerate(["USECOND", "UTHIRD", "UFOURTH"], start=2):
        with db.reading_together():
            assert _people(db) == n - 1  # through SQLAlchemy, which begins its own
            assert find_slack_profile(db, user) is None
        _save_elsewhere(db, user, now)
        with db.reading_together():
            assert find_slack_profile(db, user) is not None
            assert _people(db) == n


@pytest.mark.postgres
def test_connections_kept_for_readers_are_few_and_closed_with_the_database(db: Database) -> None:
    pool = db.engine.pool
    threads = [threading.Thread(target=lambda: _read_together(db)) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pool.checkedout() <= READERS_KEPT  # type: ignore[attr-defined]
    db.dispose()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def _read_together(db: Database) -> None:
    with db.reading_together():
        find_slack_profile(db, "UNOBODY")

"""Retirement state in storage: confirmed once, reversible, nothing deleted, all audited."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from storage.admin import (
    audit_log,
    cancel_retirement,
    confirm_retirement,
    get_retirement,
    record_audit,
    request_retirement,
    restore_leaderboard,
)
from storage.db import Database
from storage.leaderboard import leaderboard_state


def test_the_leaderboard_starts_active(db):
    assert not leaderboard_state(db).retired


def test_a_confirmed_retirement_retires_with_who_when_and_why(db, now):
    pending = request_retirement(db, "Thanks, all.", "UADMIN", now)
    assert not leaderboard_state(db).retired
    confirmed = confirm_retirement(db, pending.id, "UADMIN2", now)
    assert confirmed is not None and confirmed.retirement.status == "confirmed"
    state = leaderboard_state(db)
    assert (state.status, state.announcement, state.changed_by, state.changed_at) == (
        "retired",
        "Thanks, all.",
        "UADMIN2",
        now,
    )


def test_only_the_first_of_two_concurrent_confirms_wins(settings, db, now):
    pending = request_retirement(db, "Bye.", "UADMIN", now)
    results = []
    barrier = threading.Barrier(2)

    def click(admin: str) -> None:
        own = Database(settings.database_url, settings.timezone)
        barrier.wait()
        results.append(confirm_retirement(own, pending.id, admin, now))
        own.dispose()

    threads = [threading.Thread(target=click, args=(a,)) for a in ("UA", "UB")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r is None for r in results) == [False, True]


def test_a_cancelled_retirement_cannot_be_confirmed(db, now):
    pending = request_retirement(db, "Bye.", "UADMIN", now)
    assert cancel_retirement(db, pending.id, "UADMIN", now)
    assert confirm_retirement(db, pending.id, "UADMIN", now) is None
    assert not cancel_retirement(db, pending.id, "UADMIN", now)
    assert not leaderboard_state(db).retired


def test_restore_only_undoes_a_retirement(db, now):
    assert restore_leaderboard(db, "UADMIN", now, date(2026, 11, 23)) is None
    confirm_retirement(db, request_retirement(db, "Bye.", "UADMIN", now).id, "UADMIN", now)
    assert restore_leaderboard(db, "UADMIN", now, date(2026, 11, 23)) == ()
    state = leaderboard_state(db)
    assert (state.status, state.resume_week) == ("active", date(2026, 11, 23))


def test_the_audit_log_lists_entries_oldest_first_from_a_date(db, now):
    record_audit(db, "UADMIN", "retire", "refused", now - timedelta(days=2), "not an admin")
    record_audit(db, "UADMIN", "retire", "done", now, "Bye.")
    assert [e.outcome for e in audit_log(db)] == ["refused", "done"]
    assert [e.outcome for e in audit_log(db, since=now - timedelta(hours=1))] == ["done"]


def test_a_second_retirement_confirmed_while_retired_is_cancelled_not_applied(db, now):
    first = request_retirement(db, "First.", "UA", now)
    second = request_retirement(db, "Second.", "UB", now)
    assert confirm_retirement(db, first.id, "UA", now) is not None
    assert confirm_retirement(db, second.id, "UB", now + timedelta(minutes=1)) is None
    state = leaderboard_state(db)
    assert (state.announcement, state.changed_by) == ("First.", "UA")
    assert get_retirement(db, second.id).status == "cancelled"


def test_confirming_a_retirement_cancels_every_other_pending_one(db, now):
    draft = request_retirement(db, "Draft.", "UA", now)
    other = request_retirement(db, "Other.", "UB", now)
    final = request_retirement(db, "Final.", "UA", now)
    confirmed = confirm_retirement(db, final.id, "UA", now)
    assert confirmed is not None and sorted(confirmed.superseded) == [draft.id, other.id]
    assert {get_retirement(db, r.id).status for r in (draft, other)} == {"cancelled"}


def test_a_restore_cancels_a_preview_that_raced_the_retirement(db, now):
    confirm_retirement(db, request_retirement(db, "Bye.", "UA", now).id, "UA", now)
    raced = request_retirement(db, "Late draft.", "UB", now)  # read "active" just before
    assert restore_leaderboard(db, "UA", now, date(2026, 11, 23)) == (raced.id,)
    assert confirm_retirement(db, raced.id, "UB", now) is None
    assert not leaderboard_state(db).retired

"""Leaderboard state, pending retirements and the audit log. Nothing here deletes usage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import Connection, insert, select, update

from storage.db import Database
from storage.outbox import add_to_outbox, cancel_pending
from storage.post_models import AuditRow, LeaderboardStateRow, RetirementRow
from storage.records import AuditEntry, ConfirmedRetirement, OwedPost, Retirement

STATE_ID = 1


def request_retirement(db: Database, announcement: str, by: str, now: datetime) -> Retirement:
    """Store a pending retirement; the confirm button carries only its id."""
    with db.write() as conn:
        retirement_id = conn.execute(
            insert(RetirementRow)
            .values(announcement=announcement, requested_by=by, requested_at=now, status="pending")
            .returning(RetirementRow.id)
        ).scalar_one()
    found = get_retirement(db, retirement_id)
    assert found is not None
    return found


def get_retirement(db: Database, retirement_id: int) -> Retirement | None:
    with db.read() as conn:
        row = conn.execute(
            select(RetirementRow).where(RetirementRow.id == retirement_id)
        ).one_or_none()
    return _retirement(row) if row else None


def confirm_retirement(
    db: Database,
    retirement_id: int,
    by: str,
    now: datetime,
    *,
    announce: Callable[[str], OwedPost | None] | None = None,
) -> ConfirmedRetirement | None:
    """Confirm a pending retirement and retire the leaderboard, atomically. Returns it only
    to the one caller that confirmed it: a second click, or a second admin, gets None, and
    so does a retirement confirmed while the leaderboard is already retired (it is cancelled).
    `announce(text)` names the announcement to owe, written in the same transaction so a
    crash right after cannot lose it; award posts still owed are cancelled with it, and so
    is every other pending retirement."""
    with db.write() as conn:
        claimed = conn.execute(
            update(RetirementRow)
            .where(RetirementRow.id == retirement_id, RetirementRow.status == "pending")
            .values(status="confirmed", decided_by=by, decided_at=now)
        ).rowcount
        if claimed != 1:
            return None
        announcement = conn.scalar(
            select(RetirementRow.announcement).where(RetirementRow.id == retirement_id)
        )
        retired = conn.execute(
            update(LeaderboardStateRow)
            .where(LeaderboardStateRow.id == STATE_ID, LeaderboardStateRow.status != "retired")
            .values(
                status="retired",
                announcement=announcement,
                changed_by=by,
                changed_at=now,
                resume_week=None,
            )
        ).rowcount
        if retired != 1:
            # Another retirement got there first: this one is moot, and its announcement
            # must not be posted a second time.
            conn.execute(
                update(RetirementRow)
                .where(RetirementRow.id == retirement_id)
                .values(status="cancelled")
            )
            return None
        cancel_pending(conn, "awards", now, "the leaderboard was retired")
        superseded = _cancel_pending_retirements(conn, by, now)
        owed = announce(announcement) if announce is not None and announcement else None
        if owed is not None:
            add_to_outbox(conn, owed.post_key, owed.kind, owed.payload, owed.channels, now)
    confirmed = get_retirement(db, retirement_id)
    assert confirmed is not None
    return ConfirmedRetirement(confirmed, superseded)


def cancel_retirement(db: Database, retirement_id: int, by: str, now: datetime) -> bool:
    """Cancel a pending retirement; False if it was already confirmed or cancelled."""
    with db.write() as conn:
        return (
            conn.execute(
                update(RetirementRow)
                .where(RetirementRow.id == retirement_id, RetirementRow.status == "pending")
                .values(status="cancelled", decided_by=by, decided_at=now)
            ).rowcount
            == 1
        )


def restore_leaderboard(
    db: Database, by: str, now: datetime, resume_week: date, *, note: OwedPost | None = None
) -> tuple[int, ...] | None:
    """Bring the leaderboard back, awards from `resume_week` on; None if it was not retired,
    else the ids of pending retirements it cancelled (a preview from before must not retire
    again). `note`, when given, is owed to its channels in the same transaction."""
    with db.write() as conn:
        restored = conn.execute(
            update(LeaderboardStateRow)
            .where(LeaderboardStateRow.id == STATE_ID, LeaderboardStateRow.status == "retired")
            .values(status="active", changed_by=by, changed_at=now, resume_week=resume_week)
        ).rowcount
        if restored != 1:
            return None
        if note is not None:
            add_to_outbox(conn, note.post_key, note.kind, note.payload, note.channels, now)
        return _cancel_pending_retirements(conn, by, now)


def _cancel_pending_retirements(conn: Connection, by: str, now: datetime) -> tuple[int, ...]:
    ids = conn.execute(
        update(RetirementRow)
        .where(RetirementRow.status == "pending")
        .values(status="cancelled", decided_by=by, decided_at=now)
        .returning(RetirementRow.id)
    ).scalars()
    return tuple(sorted(ids))


def record_audit(
    db: Database, actor: str, action: str, outcome: str, now: datetime, detail: str | None = None
) -> None:
    with db.write() as conn:
        conn.execute(
            insert(AuditRow).values(
                at=now, actor=actor, action=action, outcome=outcome, detail=detail
            )
        )


def audit_log(db: Database, since: datetime | None = None) -> list[AuditEntry]:
    """Entries oldest first, from `since` on."""
    stmt = select(AuditRow).order_by(AuditRow.at, AuditRow.id)
    if since is not None:
        stmt = stmt.where(AuditRow.at >= since)
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [AuditEntry(r.at, r.actor, r.action, r.outcome, r.detail) for r in rows]


def _retirement(row) -> Retirement:
    return Retirement(
        id=row.id,
        announcement=row.announcement,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        status=row.status,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )

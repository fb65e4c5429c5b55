"""Claims on Slack posts, one per post key and channel, so nothing is posted twice.

A claim is taken (INSERT, unique on key and channel) before posting and completed with the
message ts after. A claim left `claimed` past a stale period may be taken over; the new
holder must first look for the earlier holder's message before posting again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import PostRow
from storage.records import ClaimResult, PostClaim


def claim_post(
    db: Database, post_key: str, channel: str, holder: str, now: datetime, stale_after: timedelta
) -> ClaimResult:
    """Try to take the right to post `post_key` to `channel`. Posted claims stay posted;
    a failed one (Slack said no, so nothing was posted) may be claimed again."""
    with db.write() as conn:
        inserted = conn.execute(
            insert_ignore(conn, PostRow).returning(PostRow.id),
            {
                "post_key": post_key,
                "channel": channel,
                "status": "claimed",
                "claimed_by": holder,
                "claimed_at": now,
                "attempts": 1,
                "updated_at": now,
            },
        ).first()
        claim = _get(conn, post_key, channel)
        if inserted is not None:
            return ClaimResult(claim, mine=True)
        if claim.status == "posted":
            return ClaimResult(claim, mine=False)
        if claim.status == "claimed" and claim.claimed_at > now - stale_after:
            return ClaimResult(claim, mine=False)
        # Failed, or claimed and stale: take it over, unless someone else just did.
        taken = conn.execute(
            update(PostRow)
            .where(
                PostRow.post_key == post_key,
                PostRow.channel == channel,
                PostRow.status == claim.status,
                PostRow.claimed_by == claim.claimed_by,
                PostRow.claimed_at == claim.claimed_at,
            )
            .values(
                status="claimed",
                claimed_by=holder,
                claimed_at=now,
                attempts=PostRow.attempts + 1,
                updated_at=now,
            )
        ).rowcount
        after = _get(conn, post_key, channel)
        if taken != 1:
            return ClaimResult(after, mine=False)
        verify_since = claim.claimed_at if claim.status == "claimed" else None
        return ClaimResult(after, mine=True, verify_since=verify_since)


def mark_posted(
    db: Database, post_key: str, channel: str, holder: str, ts: str, now: datetime
) -> None:
    """Record the message ts of a claim this holder posted (or found already posted)."""
    _finish(db, post_key, channel, holder, now, status="posted", ts=ts, error=None)


def mark_failed(
    db: Database, post_key: str, channel: str, holder: str, error: str, now: datetime
) -> None:
    """Record that Slack refused the post (nothing was posted), so a later run may retry."""
    _finish(db, post_key, channel, holder, now, status="failed", ts=None, error=error[:200])


def note_unknown(
    db: Database, post_key: str, channel: str, holder: str, error: str, now: datetime
) -> None:
    """Keep the claim but note why its outcome is unknown; a takeover will verify it."""
    with db.write() as conn:
        conn.execute(
            update(PostRow)
            .where(*_mine(post_key, channel, holder))
            .values(error=error[:200], updated_at=now)
        )


def post_claims(db: Database, post_key: str) -> list[PostClaim]:
    """Every channel's claim for one post key, by channel."""
    with db.read() as conn:
        rows = conn.execute(
            select(PostRow).where(PostRow.post_key == post_key).order_by(PostRow.channel)
        )
        return [_claim(row) for row in rows]


def last_posts(db: Database, key_prefix: str) -> dict[str, PostClaim]:
    """The latest posted claim per channel among post keys starting with `key_prefix`."""
    with db.read() as conn:
        rows = conn.execute(
            select(PostRow)
            .where(PostRow.post_key.startswith(key_prefix), PostRow.status == "posted")
            .order_by(PostRow.updated_at, PostRow.id)
        ).all()
    # Later rows overwrite earlier ones, so each channel keeps its newest post.
    return {row.channel: _claim(row) for row in rows}


def _finish(
    db: Database,
    post_key: str,
    channel: str,
    holder: str,
    now: datetime,
    *,
    status: str,
    ts: str | None,
    error: str | None,
) -> None:
    with db.write() as conn:
        conn.execute(
            update(PostRow)
            .where(*_mine(post_key, channel, holder))
            .values(status=status, ts=ts, error=error, updated_at=now)
        )


def _mine(post_key: str, channel: str, holder: str) -> tuple:
    return (
        PostRow.post_key == post_key,
        PostRow.channel == channel,
        PostRow.claimed_by == holder,
        PostRow.status == "claimed",
    )


def _get(conn: Connection, post_key: str, channel: str) -> PostClaim:
    row = conn.execute(
        select(PostRow).where(PostRow.post_key == post_key, PostRow.channel == channel)
    ).one()
    return _claim(row)


def _claim(row) -> PostClaim:
    return PostClaim(
        post_key=row.post_key,
        channel=row.channel,
        status=row.status,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        ts=row.ts,
        error=row.error,
        attempts=row.attempts,
    )

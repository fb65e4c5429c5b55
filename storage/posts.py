"""Claims on Slack posts, one per post key and channel, so nothing is posted twice.

A claim is taken (INSERT, unique on key and channel) before posting and completed with the
message ts after. Its holder keeps it by renewing a lease while it works; a claim whose lease
ran out (its holder died), or that ended `failed` or `unknown` and is due for a re-check, may
be taken over, and the new holder must first look for an earlier message before posting.

A direct message's channel is its person's Slack user ID, so its claims are theirs: a forget
deletes them (`storage.privacy`), and a claim on one is taken only while the person is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import PersonRow
from storage.post_models import PostRow
from storage.records import ClaimResult, PostClaim

RETRYABLE = ("failed", "unknown")
# Slack said the post can never be made there (a direct message to someone deactivated, or
# a bot): nobody takes the claim again, so it is not retried.
UNDELIVERABLE = "undeliverable"


def claim_post(
    db: Database,
    post_key: str,
    channel: str,
    holder: str,
    now: datetime,
    lease: timedelta,
    *,
    grace: timedelta = timedelta(0),
    to_person: int | None = None,
) -> ClaimResult | None:
    """Try to take the right to post `post_key` to `channel` until `now + lease`. A posted
    claim stays posted; a live lease or a re-check not yet due is left alone. A lease is only
    taken over `grace` after it ran out, so a post its dead holder made has had time to show.
    With `to_person` (a direct message: `channel` is their Slack user ID) nothing is claimed,
    and None is returned, once that person is no longer stored."""
    with db.write() as conn:
        if to_person is not None and not _recipient_stored(conn, to_person, channel):
            return None
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
                "lease_until": now + lease,
            },
        ).first()
        claim = _get(conn, post_key, channel)
        if inserted is not None:
            return ClaimResult(claim, mine=True)
        if not _takeable(claim, now, grace):
            return ClaimResult(claim, mine=False)
        taken = conn.execute(
            update(PostRow)
            .where(
                PostRow.post_key == post_key,
                PostRow.channel == channel,
                PostRow.status == claim.status,
                PostRow.claimed_by == claim.claimed_by,
                PostRow.attempts == claim.attempts,
            )
            .values(
                status="claimed",
                claimed_by=holder,
                lease_until=now + lease,
                check_after=None,
                attempts=PostRow.attempts + 1,
                updated_at=now,
            )
        ).rowcount
        after = _get(conn, post_key, channel)
        if taken != 1:
            return ClaimResult(after, mine=False)
        # Any earlier holder may have posted since the first claim: look before posting.
        return ClaimResult(after, mine=True, verify_since=claim.claimed_at)


def _recipient_stored(conn: Connection, person_id: int, slack_user_id: str) -> bool:
    """Whether the person a direct message is for is still stored. On PostgreSQL their row
    is share-locked until the claim commits: a forget that deleted it first is waited for
    (and then nothing is claimed), and one that comes after waits for the claim, so the
    claim is among the rows it deletes. SQLite's writers take turns anyway."""
    found = conn.execute(
        select(PersonRow.id)
        .where(PersonRow.id == person_id, PersonRow.slack_user_id == slack_user_id)
        .with_for_update(read=True, key_share=True)
    ).first()
    return found is not None


def _takeable(claim: PostClaim, now: datetime, grace: timedelta) -> bool:
    if claim.status == "claimed":
        return claim.lease_until is None or claim.lease_until + grace <= now
    if claim.status in RETRYABLE:
        return claim.check_after is None or claim.check_after <= now
    return False


def renew_claims(db: Database, holder: str, until: datetime, now: datetime) -> int:
    """The heartbeat: extend every lease `holder` still has; how many it has."""
    with db.write() as conn:
        return conn.execute(
            update(PostRow)
            .where(PostRow.claimed_by == holder, PostRow.status == "claimed")
            .values(lease_until=until, updated_at=now)
        ).rowcount


def still_mine(
    db: Database, post_key: str, channel: str, holder: str, until: datetime, now: datetime
) -> bool:
    """Renew one claim's lease just before posting; False when it was lost meanwhile."""
    with db.write() as conn:
        return (
            conn.execute(
                update(PostRow)
                .where(*_mine(post_key, channel, holder))
                .values(lease_until=until, updated_at=now)
            ).rowcount
            == 1
        )


def mark_posted(
    db: Database, post_key: str, channel: str, holder: str, ts: str, now: datetime
) -> None:
    """Record the message ts of a claim this holder posted (or found already posted)."""
    with db.write() as conn:
        conn.execute(
            update(PostRow)
            .where(*_mine(post_key, channel, holder))
            .values(
                status="posted",
                ts=ts,
                error=None,
                lease_until=None,
                check_after=None,
                updated_at=now,
            )
        )


def mark_retry(
    db: Database,
    post_key: str,
    channel: str,
    holder: str,
    *,
    status: str,
    error: str,
    now: datetime,
    check_after: datetime,
) -> None:
    """Give the claim up as `failed` (Slack said no) or `unknown` (no clear answer): from
    `check_after` anyone may look in the channel and, if the post is not there, post it."""
    assert status in RETRYABLE
    _give_up(db, post_key, channel, holder, status, error, now, check_after)


def mark_undeliverable(
    db: Database, post_key: str, channel: str, holder: str, *, error: str, now: datetime
) -> None:
    """Give the claim up for good: Slack will never take this post in this channel."""
    _give_up(db, post_key, channel, holder, UNDELIVERABLE, error, now, None)


def _give_up(
    db: Database,
    post_key: str,
    channel: str,
    holder: str,
    status: str,
    error: str,
    now: datetime,
    check_after: datetime | None,
) -> None:
    with db.write() as conn:
        conn.execute(
            update(PostRow)
            .where(*_mine(post_key, channel, holder))
            .values(
                status=status,
                error=error[:200],
                lease_until=None,
                check_after=check_after,
                updated_at=now,
            )
        )


def post_claims(db: Database, post_key: str) -> list[PostClaim]:
    """Every channel's claim for one post key, by channel."""
    with db.read() as conn:
        rows = conn.execute(
            select(PostRow).where(PostRow.post_key == post_key).order_by(PostRow.channel)
        )
        return [_claim(row) for row in rows]


def claims_for(db: Database, post_keys: list[str]) -> dict[str, list[PostClaim]]:
    """The claims of several post keys, by key then channel."""
    found: dict[str, list[PostClaim]] = {key: [] for key in post_keys}
    if not post_keys:
        return found
    with db.read() as conn:
        rows = conn.execute(
            select(PostRow)
            .where(PostRow.post_key.in_(post_keys))
            .order_by(PostRow.post_key, PostRow.channel)
        )
        for row in rows:
            found[row.post_key].append(_claim(row))
    return found


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
        lease_until=row.lease_until,
        check_after=row.check_after,
        updated_at=row.updated_at,
    )

"""Replies owed through a slash command's `response_url` after an empty ack: written before
the ack, deleted once sent, and claimed by the re-drive once their holder's lease is over.

A row is its holder's until `lease_until`; a claim is one conditional UPDATE, so of two
replicas re-driving at once exactly one takes each row, whichever database. A row the re-drive
answered is not deleted but marked ANSWERED (its text and URL emptied) until it is dropped with
the unanswered ones past Slack's 30 minutes: a first holder that was frozen past its lease finds
it another's and sends nothing, where a row gone means a forget (or those 30 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, insert, select, update

from storage.db import Database
from storage.post_models import OwedReplyRow

# The holder of a row the re-drive answered: no process is called so (a host name has no
# parentheses), so no renewal, claim or settle matches it.
ANSWERED = "(answered)"


@dataclass(frozen=True, slots=True)
class OwedReply:
    """One owed reply as stored. `response_url` is a capability: never log it."""

    id: int
    slack_user_id: str
    text: str
    response_url: str
    team: tuple[str | None, str | None]  # (team, enterprise) as the payload named them
    created_at: datetime
    holder: str
    lease_until: datetime


def owe_reply(
    db: Database,
    *,
    slack_user_id: str,
    text: str,
    response_url: str,
    team: tuple[str | None, str | None],
    holder: str,
    now: datetime,
    lease_until: datetime,
) -> int:
    """Record a reply owed to `slack_user_id`, held by `holder` until `lease_until`; its id."""
    with db.write() as conn:
        return int(
            conn.execute(
                insert(OwedReplyRow)
                .values(
                    slack_user_id=slack_user_id,
                    text=text,
                    response_url=response_url,
                    team_id=team[0],
                    enterprise_id=team[1],
                    created_at=now,
                    holder=holder,
                    lease_until=lease_until,
                )
                .returning(OwedReplyRow.id)
            ).scalar_one()
        )


def renew(db: Database, owed_id: int, holder: str, lease_until: datetime) -> bool:
    """Extend `holder`'s lease on a row; False when it is gone (sent, forgotten, dropped) or
    another process took it over."""
    with db.write() as conn:
        changed = conn.execute(
            update(OwedReplyRow)
            .where(OwedReplyRow.id == owed_id, OwedReplyRow.holder == holder)
            .values(lease_until=lease_until)
        ).rowcount
    return bool(changed)


def renewed_holder(db: Database, owed_id: int, holder: str, lease_until: datetime) -> str | None:
    """Extend `holder`'s lease on a row if it is still its own, in one statement; who holds
    the row now (`holder` when renewed, ANSWERED once the re-drive answered it), or None
    when it is gone."""
    with db.write() as conn:
        return conn.execute(
            update(OwedReplyRow)
            .where(OwedReplyRow.id == owed_id)
            .values(
                lease_until=case(
                    (OwedReplyRow.holder == holder, lease_until), else_=OwedReplyRow.lease_until
                )
            )
            .returning(OwedReplyRow.holder)
        ).scalar_one_or_none()


def mark_answered(db: Database, owed_id: int, holder: str) -> None:
    """The re-drive's reply went, or never will: the row stays, as ANSWERED and without its
    text or URL, unless another process holds it now."""
    with db.write() as conn:
        conn.execute(
            update(OwedReplyRow)
            .where(OwedReplyRow.id == owed_id, OwedReplyRow.holder == holder)
            .values(holder=ANSWERED, text="", response_url="")
        )


def settle(db: Database, owed_id: int, holder: str) -> None:
    """The reply went, or never will: the row goes, unless another process holds it now."""
    with db.write() as conn:
        conn.execute(
            delete(OwedReplyRow).where(OwedReplyRow.id == owed_id, OwedReplyRow.holder == holder)
        )


def drop_born_before(db: Database, before: datetime) -> int:
    """Delete the rows made before `before`, answered or not; how many of them were still
    unanswered."""
    born = OwedReplyRow.created_at < before
    with db.write() as conn:
        conn.execute(delete(OwedReplyRow).where(born, OwedReplyRow.holder == ANSWERED))
        return int(conn.execute(delete(OwedReplyRow).where(born)).rowcount)


def abandoned_replies(db: Database, now: datetime, born_after: datetime) -> list[int]:
    """The unanswered rows whose lease is over and that were made at or after `born_after`,
    oldest first: to claim one at a time (`claim_reply`), each just before it is answered."""
    with db.read() as conn:
        return list(
            conn.scalars(
                select(OwedReplyRow.id)
                .where(
                    OwedReplyRow.lease_until < now,
                    OwedReplyRow.created_at >= born_after,
                    OwedReplyRow.holder != ANSWERED,
                )
                .order_by(OwedReplyRow.id)
            )
        )


def claim_reply(
    db: Database, owed_id: int, holder: str, now: datetime, lease_until: datetime
) -> OwedReply | None:
    """Take the row for `holder` until `lease_until` if its lease is over at `now`; None
    when it is gone, answered, or another process holds it."""
    with db.write() as conn:
        row = conn.execute(
            update(OwedReplyRow)
            .where(
                OwedReplyRow.id == owed_id,
                OwedReplyRow.lease_until < now,
                OwedReplyRow.holder != ANSWERED,
            )
            .values(holder=holder, lease_until=lease_until)
            .returning(*OwedReplyRow.__table__.columns)
        ).first()
    return None if row is None else _owed(row)


def owed_replies(db: Database, slack_user_id: str | None = None) -> list[OwedReply]:
    """The replies still owed (of one person, if given), oldest first: not the rows kept
    as ANSWERED."""
    query = select(OwedReplyRow).where(OwedReplyRow.holder != ANSWERED).order_by(OwedReplyRow.id)
    if slack_user_id is not None:
        query = query.where(OwedReplyRow.slack_user_id == slack_user_id)
    with db.read() as conn:
        return [_owed(row) for row in conn.execute(query)]


def _owed(row: Any) -> OwedReply:
    return OwedReply(
        id=row.id,
        slack_user_id=row.slack_user_id,
        text=row.text,
        response_url=row.response_url,
        team=(row.team_id, row.enterprise_id),
        created_at=row.created_at,
        holder=row.holder,
        lease_until=row.lease_until,
    )

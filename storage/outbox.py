"""The outbox: posts still owed to their channels, so a crash never loses one.

A row is written before any channel is claimed, or inside the transaction of what the post
tells (a retirement, a restore), and stays `pending` until every channel has the post.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from storage.db import Database
from storage.dialect import insert_ignore
from storage.post_models import OutboxRow
from storage.records import OutboxItem


def add_to_outbox(
    conn: Connection,
    post_key: str,
    kind: str,
    payload: Any,
    channels: Sequence[str],
    now: datetime,
) -> None:
    """Owe `post_key` to `channels`, inside the caller's transaction; a second call for
    the same key changes nothing (the first payload and channels stand)."""
    conn.execute(
        insert_ignore(conn, OutboxRow),
        {
            "post_key": post_key,
            "kind": kind,
            "payload": payload,
            "channels": list(channels),
            "status": "pending",
            "created_at": now,
        },
    )


def owe_post(
    db: Database, post_key: str, kind: str, payload: Any, channels: Sequence[str], now: datetime
) -> OutboxItem:
    """`add_to_outbox` in a transaction of its own; returns the row as stored."""
    with db.write() as conn:
        add_to_outbox(conn, post_key, kind, payload, channels, now)
        row = conn.execute(select(OutboxRow).where(OutboxRow.post_key == post_key)).one()
    return _item(row)


def finish_outbox(
    db: Database, post_key: str, status: str, now: datetime, detail: str | None = None
) -> None:
    """Close a pending row: `done` (every channel has the post) or `cancelled` (why)."""
    assert status in ("done", "cancelled")
    with db.write() as conn:
        conn.execute(
            update(OutboxRow)
            .where(OutboxRow.post_key == post_key, OutboxRow.status == "pending")
            .values(status=status, done_at=now, detail=(detail or "")[:200] or None)
        )


def cancel_pending(conn: Connection, kind: str, now: datetime, detail: str) -> None:
    """Cancel every pending post of `kind`, inside the caller's transaction."""
    conn.execute(
        update(OutboxRow)
        .where(OutboxRow.kind == kind, OutboxRow.status == "pending")
        .values(status="cancelled", done_at=now, detail=detail[:200])
    )


def outbox_item(db: Database, post_key: str) -> OutboxItem | None:
    """The outbox row of one post, whatever its state; None when never owed (or pruned)."""
    with db.read() as conn:
        row = conn.execute(select(OutboxRow).where(OutboxRow.post_key == post_key)).first()
    return None if row is None else _item(row)


def pending_posts(db: Database) -> list[OutboxItem]:
    """Every post still owed, oldest first."""
    with db.read() as conn:
        rows = conn.execute(
            select(OutboxRow).where(OutboxRow.status == "pending").order_by(OutboxRow.id)
        )
        return [_item(row) for row in rows]


def recent_posts(db: Database, closed: int) -> list[OutboxItem]:
    """Every pending post, and the `closed` most recently delivered or cancelled; newest first."""
    with db.read() as conn:
        pending = conn.execute(
            select(OutboxRow).where(OutboxRow.status == "pending").order_by(OutboxRow.id.desc())
        ).all()
        finished = conn.execute(
            select(OutboxRow)
            .where(OutboxRow.status != "pending")
            .order_by(OutboxRow.done_at.desc(), OutboxRow.id.desc())
            .limit(closed)
        ).all()
    return [_item(row) for row in [*pending, *finished]]


def _item(row) -> OutboxItem:
    return OutboxItem(
        post_key=row.post_key,
        kind=row.kind,
        payload=row.payload,
        channels=tuple(row.channels or ()),
        status=row.status,
        detail=row.detail,
        created_at=row.created_at,
        done_at=row.done_at,
    )

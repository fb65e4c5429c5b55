"""Before a forget deletes anything: its keys claimed, and what is stored for the person
found and locked, so usage stored meanwhile (PostgreSQL) is deleted with them or waits and
is dropped (`storage.privacy_door`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, tuple_

from storage.dialect import insert_ignore
from storage.models import IdentityRow, PersonRow
from storage.privacy_read import CHUNK
from storage.privacy_records import IdentityKey, Subject


def claim_keys(conn: Connection, keys: Sequence[IdentityKey], now: datetime) -> list[int]:
    """Make an identity row, nobody's, for each of the subject's keys that has none; returns
    the ids made, which the forget deletes again. First, before the forget holds any lock."""
    # A key nobody has reported usage for has no row for the forget to delete or wait on:
    # on PostgreSQL its first batch made the identity while the forget was under way, found
    # no tombstone (not committed yet) and kept the usage. Claimed, an insert of the key
    # waits for the forget and then meets its tombstone (`storage.privacy_door`), or the
    # forget waits for the insert and then finds that identity by its key (`stored_now`),
    # with what was stored for it. In key order, as `resolve_identities` inserts: they queue.
    claimed = []
    for kind, value in keys:
        made = conn.scalar(
            insert_ignore(conn, IdentityRow)
            .values(kind=kind, value=value, created_at=now)
            .returning(IdentityRow.id)
        )
        if made is not None:
            claimed.append(int(made))
    return claimed


def stored_now(
    conn: Connection, subject: Subject, keys: Sequence[IdentityKey], claimed: Sequence[int]
) -> tuple[list[int], int | None]:
    """The subject's identities and person as stored now, once its keys are claimed: the
    subject was read before, and a batch whose identity the claim waited for made them since
    (a Slack ID's person with it)."""
    ids = set(subject.identity_ids)
    for chunk in _chunks(keys):
        ids.update(
            conn.scalars(
                select(IdentityRow.id).where(tuple_(IdentityRow.kind, IdentityRow.value).in_(chunk))
            )
        )
    pid = subject.person_id
    if pid is None and subject.slack_user_id:
        pid = conn.scalar(
            select(PersonRow.id).where(PersonRow.slack_user_id == subject.slack_user_id)
        )
    return sorted(ids - set(claimed)), pid


def hold(conn: Connection, ids: Sequence[int], pid: int | None) -> list[int]:
    """Lock the person's identity rows and person row before deleting anything (on
    PostgreSQL; SQLite's write lock already keeps every other writer out). Returns `ids`
    and those of the identities linked to the person since the subject was read."""
    # A row that points at them (an event, a rollup row, a team spell, an identity being
    # linked) takes a key share lock on them as it goes in: it now waits for the forget and
    # then fails on the deleted row, to be retried and dropped. Unlocked, one stored between
    # the forget's deletes made its delete of the identity fail, and the whole forget.
    for chunk in _chunks(ids):
        conn.execute(
            select(IdentityRow.id)
            .where(IdentityRow.id.in_(chunk))
            .order_by(IdentityRow.id)
            .with_for_update()
        ).all()
    held = set(ids)
    if pid is not None:
        held.update(
            conn.scalars(
                select(IdentityRow.id)
                .where(IdentityRow.person_id == pid)
                .order_by(IdentityRow.id)
                .with_for_update()
            )
        )
        conn.execute(select(PersonRow.id).where(PersonRow.id == pid).with_for_update()).all()
    return sorted(held)


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])

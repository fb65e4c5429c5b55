"""Writes to a person's rows that a forget of that person may overtake on PostgreSQL: the
forget locks their identities and person row before deleting them (`storage.privacy_hold`),
so such a write waits, and then meets rows that are gone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import PersonRow

T = TypeVar("T")

# One attempt per forget that may commit under a write, plus one: two forgets committing
# in the same instant (one person's and another's, both named by the write) are met.
ATTEMPTS = 3


class PersonGone(Exception):
    """A row the write meant to change was deleted under it by a forget that committed
    while the write waited on it: the transaction must roll back and run again."""


def write_for_person(db: Database, work: Callable[[Connection], T]) -> T:
    """Run `work` in a write transaction; when a forget of the person it writes for commits
    while it waits (a foreign key to their deleted rows, or PersonGone), run it again in a
    fresh one, which meets what is left after the forget, as a write made just after it."""
    for _ in range(ATTEMPTS - 1):
        try:
            with db.write() as conn:
                return work(conn)
        except (IntegrityError, PersonGone):
            continue
    with db.write() as conn:
        return work(conn)


def changed(rowcount: int | None) -> None:
    """Raise PersonGone unless a statement that must change a row did."""
    if not rowcount:
        raise PersonGone


def standing_people(conn: Connection, person_ids: Iterable[int]) -> set[int]:
    """Those of these people whose rows stand, each locked against a forget (on PostgreSQL)
    until the transaction ends: one a forget holds is waited for and left out once it
    commits, and a forget that comes later waits for this transaction and sees what it
    stored for them."""
    wanted = sorted(set(person_ids))
    found: set[int] = set()
    for start in range(0, len(wanted), 500):
        found.update(
            conn.scalars(
                select(PersonRow.id)
                .where(PersonRow.id.in_(wanted[start : start + 500]))
                .order_by(PersonRow.id)
                .with_for_update(read=True, key_share=True)
            )
        )
    return found

"""The check every door makes before storing usage: is this identity's person forgotten?"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.people import IdentityKey, resolve_identities
from storage.person_writes import ATTEMPTS
from storage.privacy import forgotten_keys, generation

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

# How soon this process notices a forget made by another one (`aiusage people forget` while
# `serve` runs); a batch in between that meets a vanished identity is retried at once.
RECHECK = timedelta(seconds=2)


def notice_forgets(db: Database, now: datetime, *, force: bool = False) -> bool:
    """Empty the identity cache when someone was forgotten (or opted in) since last looked;
    True when it did. Looks at most every `RECHECK` unless forced."""
    checked = db.privacy_checked_at
    if not force and checked is not None and abs(now - checked) < RECHECK:
        return False
    db.privacy_checked_at = now
    current = generation(db)
    changed = db.privacy_generation is not None and current != db.privacy_generation
    if changed:
        db.identity_ids.clear()
    db.privacy_generation = current
    return changed


class ForgottenMeanwhile(Exception):
    """An identity was made for someone whose forget committed meanwhile: the transaction
    must roll back, and `retry_after_forget` runs it again without them."""


def resolve_unforgotten(
    conn: Connection, keys: Iterable[IdentityKey], now: datetime
) -> dict[IdentityKey, int]:
    """`resolve_identities` for the keys of people not forgotten: theirs are left out, and
    never made again. Raises ForgottenMeanwhile (see `retry_after_forget`)."""
    keys = set(keys)
    made: set[IdentityKey] = set()
    found = resolve_identities(conn, keys - forgotten_keys(conn, keys), now, made=made)
    # Under PostgreSQL's READ COMMITTED a forget could commit between the tombstone check
    # above and the identity look-up: the identity it deleted was then made afresh. A
    # statement of its own sees that forget's tombstone (an insert meeting a forget still
    # under way waits for it on the unique key: the forget claims every key it names, see
    # `storage.privacy_hold`). Only identities made here are looked at, so ingest of people
    # already known pays nothing.
    if made and forgotten_keys(conn, made):
        raise ForgottenMeanwhile
    return found


def retry_after_forget(db: Database, now: datetime, attempt: Callable[[], T]) -> T:
    """Run `attempt`; if it fails on an integrity error (an identity a forget has just
    deleted, between our cache checks) or on ForgottenMeanwhile, empty the cache and run
    it again, up to ATTEMPTS in all: a retry can meet another forget, of someone else in
    the batch, that committed just after the first."""
    for _ in range(ATTEMPTS - 1):
        try:
            return attempt()
        except (IntegrityError, ForgottenMeanwhile):
            # Emptied whatever the generation says: another request thread that failed on
            # the same forget may have noticed it first, and this attempt's ids came from
            # before.
            notice_forgets(db, now, force=True)
            db.identity_ids.clear()
    return attempt()


def drop_forgotten(
    first_seen: dict[str, int],
    key_at: Callable[[int], K],
    identities: Mapping[K, int],
) -> tuple[dict[str, int], list[int]]:
    """Split a batch's first-seen positions into those to store and those dropped because
    `identities` has no id for their identity (`key_at(position)`): its person is forgotten."""
    kept: dict[str, int] = {}
    dropped: list[int] = []
    for event_id, index in first_seen.items():
        if key_at(index) in identities:
            kept[event_id] = index
        else:
            dropped.append(index)
    return kept, dropped

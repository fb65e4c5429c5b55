"""The check every door makes before storing usage: is this identity's person forgotten?"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.privacy import generation

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


def retry_after_forget(db: Database, now: datetime, attempt: Callable[[], T]) -> T:
    """Run `attempt`; if it fails on an integrity error (an identity a forget has just
    deleted, between our cache checks), empty the cache and run it once more."""
    try:
        return attempt()
    except IntegrityError:
        # Emptied whatever the generation says: another request thread that failed on the
        # same forget may have noticed it first, and this attempt's ids came from before.
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

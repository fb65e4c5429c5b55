"""The check every door makes before storing usage: is this identity's person forgotten?"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from datetime import datetime, timedelta

from storage.db import Database
from storage.privacy import generation

# How soon this process notices a forget made by another one (`aiusage people forget` while
# `serve` runs); until then a batch for that person may fail on its vanished identity and be
# retried by the sender, and is dropped then.
RECHECK = timedelta(seconds=2)


def notice_forgets(db: Database, now: datetime) -> None:
    """Empty the identity cache when someone was forgotten (or opted in) since last looked."""
    checked = db.privacy_checked_at
    if checked is not None and abs(now - checked) < RECHECK:
        return
    db.privacy_checked_at = now
    current = generation(db)
    if db.privacy_generation is not None and current != db.privacy_generation:
        db.identity_ids.clear()
    db.privacy_generation = current


def drop_forgotten(
    first_seen: dict[str, int],
    key_at: Callable[[int], Hashable],
    identities: Mapping[Hashable, int],
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

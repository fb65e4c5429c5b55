"""The re-drive: every post still owed is delivered again, on a schedule and at start, so a
post whose holder died, or whose outcome was unknown or refused, reaches its channels once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from jobs.posting import DEFAULT_POLICY, ChannelResult, Notifier, Post, PostPolicy, deliver
from jobs.posting import payload_data as decode
from storage.db import Database
from storage.outbox import finish_outbox, pending_posts
from storage.records import OutboxItem

log = logging.getLogger(__name__)

# A kind whose post is rebuilt from other tables: the post to deliver, or why it is off.
Rebuild = Callable[[OutboxItem], Post | str]


@dataclass(frozen=True, slots=True)
class Redriven:
    """What one pending post came to: per-channel results, or why it was cancelled or left."""

    post_key: str
    results: list[ChannelResult]
    note: str | None = None


def redrive(
    db: Database,
    notifier: Notifier,
    clock: Callable[[], datetime],
    *,
    rebuilders: Mapping[str, Rebuild],
    policy: PostPolicy = DEFAULT_POLICY,
) -> list[Redriven]:
    """Deliver every pending post again; channels that have it, or whose holder is alive,
    or whose re-check is not due yet, are left as they are."""
    done = []
    for item in pending_posts(db):
        rebuild = rebuilders.get(item.kind)
        if rebuild is not None:
            post: Post | str | None = rebuild(item)
        else:
            data = decode(item.kind, item.payload)
            post = None if data is None else Post(item.post_key, data)
        if post is None:
            # Kept pending and shown in the status: nothing here knows how to post it.
            log.warning("post %s (%s) cannot be rebuilt; left pending", item.post_key, item.kind)
            done.append(Redriven(item.post_key, [], "cannot be rebuilt"))
            continue
        if isinstance(post, str):
            finish_outbox(db, item.post_key, "cancelled", clock(), post)
            log.info("post %s cancelled: %s", item.post_key, post)
            done.append(Redriven(item.post_key, [], post))
            continue
        try:
            again = None if rebuild is None else partial(rebuild, item)
            results = deliver(
                db, notifier, post, item.channels, clock, policy=policy, refresh=again
            )
        except Exception:  # one broken post must not stop the others being re-driven
            log.exception("re-driving post %s failed", item.post_key)
            continue
        done.append(Redriven(item.post_key, results))
    return done

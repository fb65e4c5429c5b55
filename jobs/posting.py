"""Exactly-once posting of one message to several channels, whatever crashes or retries.

Generic over what is posted: the weekly awards use it, and so can any announcement. A claim
row is taken per channel before posting and completed with the message ts after; a stale
claim is only taken over after looking for its holder's message in the channel.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from jobs.results import ChannelResult
from storage.db import Database
from storage.posts import claim_post, mark_failed, mark_posted, note_unknown

__all__ = ["ChannelResult", "Notifier", "Post", "PostOutcomeUnknown", "PostRejected", "deliver"]

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=10)
POST_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Post:
    """A message to post once per channel: its key (e.g. `awards:2026-W46`), carried in the
    message metadata so the message can be found again, and the plain data to render."""

    key: str
    data: object


class PostRejected(Exception):
    """Slack refused the post (e.g. `channel_not_found`): nothing was posted."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class PostOutcomeUnknown(Exception):
    """The post may or may not have been made (a 5xx, a timeout, a dropped connection)."""


class Notifier(Protocol):
    """The far side jobs post through; `bot.slack.notifier.SlackNotifier` is the real one."""

    def post(self, channel: str, post: Post) -> str:
        """Post once, returning the message ts; raise PostRejected or PostOutcomeUnknown."""
        ...

    def find_post(self, channel: str, post_key: str, since: datetime) -> str | None:
        """The ts of a message carrying `post_key` posted to `channel` since `since`."""
        ...


def new_holder() -> str:
    """A name for this run's claims, unique across processes and hosts."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def deliver(
    db: Database,
    notifier: Notifier,
    post: Post,
    channels: Sequence[str],
    clock: Callable[[], datetime],
    *,
    stale_after: timedelta = STALE_CLAIM,
    attempts: int = POST_ATTEMPTS,
) -> list[ChannelResult]:
    """Post to every channel that has not had this post yet; one channel's failure never
    stops the others."""
    holder = new_holder()
    results = []
    for channel in channels:
        try:
            result = _deliver_one(db, notifier, post, channel, holder, clock, stale_after, attempts)
        except PostOutcomeUnknown as exc:
            result = ChannelResult(channel, "unknown", error=str(exc) or type(exc).__name__)
        log.info("post %s to %s: %s %s", post.key, channel, result.status, result.error or "")
        results.append(result)
    return results


def _deliver_one(
    db: Database,
    notifier: Notifier,
    post: Post,
    channel: str,
    holder: str,
    clock: Callable[[], datetime],
    stale_after: timedelta,
    attempts: int,
) -> ChannelResult:
    claimed = claim_post(db, post.key, channel, holder, clock(), stale_after)
    if not claimed.mine:
        if claimed.claim.status == "posted":
            return ChannelResult(channel, "already", ts=claimed.claim.ts)
        return ChannelResult(channel, "busy")
    try:
        if claimed.verify_since is not None:
            # The earlier holder may have posted and died before recording it.
            found = notifier.find_post(channel, post.key, claimed.verify_since)
            if found:
                mark_posted(db, post.key, channel, holder, found, clock())
                return ChannelResult(channel, "found", ts=found)
        error = ""
        for _ in range(attempts):
            try:
                ts = notifier.post(channel, post)
            except PostOutcomeUnknown as exc:
                error = str(exc) or type(exc).__name__
                note_unknown(db, post.key, channel, holder, error, clock())
                found = notifier.find_post(channel, post.key, claimed.claim.claimed_at)
                if found:
                    mark_posted(db, post.key, channel, holder, found, clock())
                    return ChannelResult(channel, "found", ts=found)
                continue
            mark_posted(db, post.key, channel, holder, ts, clock())
            return ChannelResult(channel, "posted", ts=ts)
        # Still unknown: the claim stays, and a later run verifies before posting again.
        return ChannelResult(channel, "unknown", error=error)
    except PostRejected as exc:
        mark_failed(db, post.key, channel, holder, exc.error, clock())
        return ChannelResult(channel, "failed", error=exc.error)

"""Exactly-once posting of one message to several channels, whatever crashes or retries.

Generic over what is posted: weekly awards, announcements, and anything else with a key.
The post is first owed in the outbox; then a claim row is taken per channel and completed
with the message ts. The holder keeps its claims alive with a heartbeat; a claim whose holder
died, or whose outcome was unknown or failed, is taken over only after a delay and only after
looking for an earlier message in the channel (`jobs.redrive` does this on a schedule).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from jobs.admin_rules import Announcement
from jobs.award_rules import AwardPost
from jobs.heartbeat import heartbeat
from jobs.results import RATE_LIMITED, ChannelResult
from storage.db import Database
from storage.outbox import finish_outbox, owe_post
from storage.posts import (
    claim_post,
    mark_posted,
    mark_retry,
    mark_undeliverable,
    post_claims,
    renew_claims,
    still_mine,
)

__all__ = [
    "RATE_LIMITED",
    "ChannelResult",
    "Notifier",
    "Post",
    "PostOutcomeUnknown",
    "PostPolicy",
    "PostRejected",
    "PostUndeliverable",
    "deliver",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PostPolicy:
    """How long a claim's lease lasts (renewed every quarter of it while its holder works),
    how long to wait before checking a channel for a post whose outcome is unknown (Slack's
    history can lag a post), and the longest wait between retries of a refused post."""

    lease: timedelta = timedelta(seconds=60)
    check_delay: timedelta = timedelta(seconds=45)
    max_backoff: timedelta = timedelta(hours=1)

    @property
    def heartbeat(self) -> timedelta:
        return self.lease / 4

    @property
    def grace(self) -> timedelta:
        """Extra wait past a dead holder's lease, so its last post has had `check_delay` to
        show in history: it posted at most a heartbeat before its lease was last renewed."""
        return max(timedelta(0), self.check_delay - (self.lease - self.heartbeat))

    def backoff(self, attempts: int) -> timedelta:
        """The wait after a refusal: `check_delay`, doubling per attempt, capped."""
        return min(self.check_delay * (2 ** max(0, min(attempts - 1, 20))), self.max_backoff)


DEFAULT_POLICY = PostPolicy()


@dataclass(frozen=True, slots=True)
class Post:
    """A message to post once per channel: its key (e.g. `awards:2026-W46`), carried in the
    message metadata so the message can be found again, and the plain data to render.
    `to_person` marks a direct message (its one channel is their Slack user ID): it is
    claimed only while they are stored, so a forget stops it even mid-run;
    `recipient_vouched` says Slack vouched for that person lately, so it need not be asked
    whether they can be written to before the post (only after a refusal)."""

    key: str
    data: object
    to_person: int | None = None
    recipient_vouched: bool = False


class PostRejected(Exception):
    """Slack answered with an error (`channel_not_found`, or a 429: `RATE_LIMITED`, with
    `retry_after` seconds): most likely nothing was posted, but a retry still looks in the
    channel first."""

    def __init__(self, error: str, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after


class PostUndeliverable(PostRejected):
    """Slack will never take the post there (a direct message to someone deactivated, gone
    or a bot): the claim ends `undeliverable`, and nobody retries it."""


class PostOutcomeUnknown(Exception):
    """The post may or may not have been made (a 5xx, a timeout, a dropped connection)."""


class Notifier(Protocol):
    """The far side jobs post through; `bot.slack.notifier.SlackNotifier` is the real one."""

    def post(self, channel: str, post: Post) -> str:
        """Post once, returning the message ts; raise PostRejected or PostOutcomeUnknown."""
        ...

    def find_post(self, channel: str, post_key: str, since: datetime) -> str | None:
        """The ts of a message carrying `post_key` posted to `channel` since `since`,
        reading the channel's history to its end; raise PostOutcomeUnknown when unsure."""
        ...


# -- what the outbox keeps of a post's data ---------------------------------------------------

# Kinds the re-drive rebuilds from other tables (`jobs.redrive` is handed how).
REBUILT_KINDS = frozenset({"awards"})


def outbox_entry(data: object) -> tuple[str, Any]:
    """The outbox kind and payload for a post's data. Awards are rebuilt from the stored
    awards when re-driven (so a later opt-out is honoured); announcements keep their text."""
    if isinstance(data, AwardPost):
        return "awards", None
    if isinstance(data, Announcement):
        return "announcement", {"kind": data.kind, "text": data.text}
    return type(data).__name__.lower()[:32], None


def payload_data(kind: str, payload: Any) -> object | None:
    """The post data a stored payload stands for, or None when it has to be rebuilt."""
    if kind == "announcement" and isinstance(payload, dict):
        return Announcement(str(payload["kind"]), str(payload["text"]))
    return None


# -- delivery ---------------------------------------------------------------------------------


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
    policy: PostPolicy = DEFAULT_POLICY,
    refresh: Callable[[], Post | str] | None = None,
) -> list[ChannelResult]:
    """Post to every channel that has not had this post yet; one channel's failure never
    stops the others. What is not posted now stays owed, and is retried by `jobs.redrive`.
    `refresh` builds the post again before each channel after the first (an award post, so
    someone who opted out while it went round is left out of the channels still to come),
    or says why there is none now: the channels still to come are then cancelled."""
    kind, payload = outbox_entry(post.data)
    # Only what the re-drive can post again is owed; other posts (a caller's own, such as a
    # direct message) keep their claims and are retried when their caller calls again.
    owed = None
    if kind in REBUILT_KINDS or payload is not None:
        owed = owe_post(db, post.key, kind, payload, channels, clock())
    holder = new_holder()
    results = []
    with heartbeat(
        policy.heartbeat, _renewing(db, holder, clock, policy), f"post claims of {holder}"
    ):
        cancelled: str | None = None
        for at, channel in enumerate(channels):
            if refresh is not None and at > 0 and cancelled is None:
                fresh = refresh()
                if isinstance(fresh, str):
                    cancelled = fresh
                else:
                    post = fresh
            if cancelled is not None:
                result = ChannelResult(channel, "cancelled", error=cancelled)
            else:
                result = _deliver_one(db, notifier, post, channel, holder, clock, policy)
            log.info("post %s to %s: %s %s", post.key, channel, result.status, result.error or "")
            results.append(result)
    if owed is not None and owed.status == "pending" and cancelled is not None:
        finish_outbox(db, post.key, "cancelled", clock(), cancelled)
    elif owed is not None and owed.status == "pending":
        posted = {c.channel for c in post_claims(db, post.key) if c.status == "posted"}
        if set(owed.channels) <= posted:
            finish_outbox(db, post.key, "done", clock())
    return results


def _deliver_one(
    db: Database,
    notifier: Notifier,
    post: Post,
    channel: str,
    holder: str,
    clock: Callable[[], datetime],
    policy: PostPolicy,
) -> ChannelResult:
    claimed = claim_post(
        db,
        post.key,
        channel,
        holder,
        clock(),
        policy.lease,
        grace=policy.grace,
        to_person=post.to_person,
    )
    if claimed is None:
        return ChannelResult(channel, "gone")  # forgotten: nobody to post to, nothing owed
    claim = claimed.claim
    if not claimed.mine:
        if claim.status == "posted":
            return ChannelResult(channel, "already", ts=claim.ts)
        if claim.status == "claimed":
            return ChannelResult(channel, "busy")
        return ChannelResult(channel, claim.status, error=claim.error, retry_at=claim.check_after)
    try:
        if claimed.verify_since is not None:
            # An earlier holder may have posted (and died, or heard no answer): look first.
            found = notifier.find_post(channel, post.key, claimed.verify_since)
            if found:
                mark_posted(db, post.key, channel, holder, found, clock())
                return ChannelResult(channel, "found", ts=found)
        now = clock()
        if not still_mine(db, post.key, channel, holder, now + policy.lease, now):
            return ChannelResult(channel, "busy")
        ts = notifier.post(channel, post)
    except PostOutcomeUnknown as exc:
        error = str(exc) or type(exc).__name__
        # Not checked at once: a post Slack made may not show in history yet.
        retry_at = clock() + policy.check_delay
        mark_retry(
            db,
            post.key,
            channel,
            holder,
            status="unknown",
            error=error,
            now=clock(),
            check_after=retry_at,
        )
        return ChannelResult(channel, "unknown", error=error, retry_at=retry_at)
    except PostUndeliverable as exc:
        mark_undeliverable(db, post.key, channel, holder, error=exc.error, now=clock())
        return ChannelResult(channel, "undeliverable", error=exc.error)
    except PostRejected as exc:
        wait = policy.backoff(claim.attempts)
        if exc.retry_after:
            wait = max(wait, timedelta(seconds=exc.retry_after))
        retry_at = clock() + wait
        mark_retry(
            db,
            post.key,
            channel,
            holder,
            status="failed",
            error=exc.error,
            now=clock(),
            check_after=retry_at,
        )
        return ChannelResult(channel, "failed", error=exc.error, retry_at=retry_at)
    mark_posted(db, post.key, channel, holder, ts, clock())
    return ChannelResult(channel, "posted", ts=ts)


def _renewing(
    db: Database, holder: str, clock: Callable[[], datetime], policy: PostPolicy
) -> Callable[[], bool]:
    """The beat that keeps every claim of this holder's run: a run holding none (all posted,
    say) keeps beating, as it may take its next claim any moment."""

    def renew() -> bool:
        now = clock()
        renew_claims(db, holder, now + policy.lease, now)
        return True

    return renew

"""The weekly digest: each subscriber's last week by direct message, exactly once per person
and week across restarts and replicas (one post claim per person, through `deliver`). The
claims name the person (their channel is their Slack user ID), so a forget deletes them and
no claim is taken for someone forgotten since the subscribers were read.

Someone Slack will never let us write to (deactivated, gone, a bot: the DM is
`undeliverable`) has their digest turned off, audited, rather than asked about every week
for good; if they come back, `/aiusage digest on` turns it on again. Someone Slack vouched for
lately (`digest_rules.vouched_lately`) is not asked about before their DM, only if Slack refuses
it: `users.info`'s budget is left to Monday's commands and Home opens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobs.digest_rules import DigestPost, digest_due, digest_week, vouched_lately
from jobs.posting import DEFAULT_POLICY, ChannelResult, Notifier, Post, PostPolicy, deliver
from jobs.schedule.wall_clock import first_fire_at
from jobs.scoring import compare_weeks
from jobs.weeks import Week, current_week
from storage.awards import awards_for
from storage.db import Database
from storage.digests import Subscriber, digest_subscribers, stop_digest
from storage.posts import UNDELIVERABLE, post_claims
from storage.privacy import is_forgotten
from storage.usage_queries import person_daily

log = logging.getLogger(__name__)

DIGEST_KEY_PREFIX = "digest:"


def digest_key(week: Week) -> str:
    return f"{DIGEST_KEY_PREFIX}{week.label}"


def send_digests(
    db: Database,
    notifier: Notifier,
    tz: ZoneInfo,
    award_schedule: str,
    clock: Callable[[], datetime],
    *,
    policy: PostPolicy = DEFAULT_POLICY,
) -> list[ChannelResult]:
    """Send every subscriber whose Monday morning has come their digest for last week,
    unless they already had it. Safe to run as often as you like, on several replicas;
    `policy` is the award posts' (leases and checks), as configured."""
    now = clock()
    this_week = current_week(now, tz)
    week = digest_week(now, tz)
    awards_at = first_fire_at(award_schedule, tz, datetime.combine(this_week.start, time(), tz))
    key = digest_key(week)
    # A DM Slack will never take is not tried again that week: it is done, as a sent one is.
    sent = {c.channel for c in post_claims(db, key) if c.status in ("posted", UNDELIVERABLE)}
    results = []
    for subscriber in digest_subscribers(db):
        if subscriber.slack_user_id in sent:
            continue
        if not digest_due(now, _zone(subscriber, tz), this_week, awards_at):
            continue
        # Forgotten and not opted in since: nothing of theirs is counted, so nothing is sent.
        if is_forgotten(db, subscriber.slack_user_id):
            continue
        post = Post(
            key,
            digest_for(db, subscriber.person_id, week),
            subscriber.person_id,
            recipient_vouched=vouched_lately(subscriber.slack_checked_at, clock()),
        )
        delivered = deliver(db, notifier, post, [subscriber.slack_user_id], clock, policy=policy)
        for result in delivered:
            if result.status == UNDELIVERABLE:
                _stop(db, subscriber, result.error or UNDELIVERABLE, clock())
        results += delivered
    return results


def _stop(db: Database, subscriber: Subscriber, reason: str, now: datetime) -> None:
    if stop_digest(db, subscriber, reason, now):
        log.info(
            "digest of %s turned off: Slack refuses their DMs (%s)",
            subscriber.slack_user_id,
            reason,
        )


def digest_for(db: Database, person_id: int, week: Week) -> DigestPost:
    daily = person_daily(db, person_id, week.previous().start, week.end)
    won = tuple(a for a in awards_for(db, person_id, limit=10) if a.week_start == week.start)
    return DigestPost(week, compare_weeks(daily, week, week.end), won)


def _zone(subscriber: Subscriber, fallback: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(subscriber.tz) if subscriber.tz else fallback
    except (ZoneInfoNotFoundError, ValueError):
        return fallback

"""Forgetting a person end to end: the deletion, then their past award posts edited so they
no longer name them. Exports and the `mydata` inventory are read straight from storage."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from jobs.award_rules import AwardRules, build_post
from jobs.awards import post_key, public_awards
from jobs.posting import Post
from jobs.weeks import Week
from storage.awards import week_awards
from storage.db import Database
from storage.posts import post_claims
from storage.privacy import forget
from storage.privacy_records import Forgotten, Subject

log = logging.getLogger(__name__)


class PostEditor(Protocol):
    """The far side that rewrites a message already posted (`chat.update` in Slack)."""

    def update(self, channel: str, ts: str, post: Post) -> None: ...


class HomeEraser(Protocol):
    """The far side that shows the person's App Home: empties their tab and deletes the
    chart files uploaded for it (`views.publish`, `files.delete` in Slack). Returns what
    could not be done, one line each."""

    def erase(self, slack_user_id: str | None, chart_files: Sequence[str]) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What a forget deleted, and which award posts were rewritten (or could not be)."""

    forgotten: Forgotten
    edited: list[str] = field(default_factory=list)  # "channel ts"
    not_edited: list[str] = field(default_factory=list)  # "channel: why"
    home_not_erased: list[str] = field(default_factory=list)  # what Slack refused, and why


def forget_person(
    db: Database,
    subject: Subject,
    *,
    actor: str,
    now: datetime,
    editor: PostEditor | None,
    rules: AwardRules,
    home: HomeEraser | None = None,
) -> ForgetReport:
    """Delete everything about `subject` (one transaction), then rewrite the award posts
    that named them and empty their App Home. What Slack refuses is reported; the deletion
    stands."""
    forgotten = forget(db, subject, actor=actor, now=now)
    edited, not_edited = edit_award_posts(db, forgotten.award_weeks, editor, rules)
    home_not_erased: list[str] = []
    if home is not None and (subject.slack_user_id or forgotten.chart_files):
        home_not_erased = home.erase(subject.slack_user_id, forgotten.chart_files)
    elif forgotten.chart_files:  # without a token there is no Home, but files were uploaded
        home_not_erased = [
            f"chart file {f}: SLACK_BOT_TOKEN is not set" for f in forgotten.chart_files
        ]
    return ForgetReport(forgotten, edited, not_edited, home_not_erased)


def edit_award_posts(
    db: Database, weeks: Sequence[date], editor: PostEditor | None, rules: AwardRules
) -> tuple[list[str], list[str]]:
    """Re-render each week's award post from what is stored now (the forgotten person's
    badge is held by the anonymous placeholder, which is never named) and update it in
    every channel it was posted to."""
    edited: list[str] = []
    not_edited: list[str] = []
    for start in weeks:
        week = Week(start)
        posted = [c for c in post_claims(db, post_key(week)) if c.status == "posted" and c.ts]
        if not posted:
            continue
        data = build_post(
            week.label, week.start, week.end, public_awards(db, week_awards(db, start)), rules
        )
        for claim in posted:
            assert claim.ts is not None
            if editor is None:
                not_edited.append(f"{claim.channel}: SLACK_BOT_TOKEN is not set")
                continue
            try:
                editor.update(claim.channel, claim.ts, Post(post_key(week), data))
            except Exception as exc:  # one channel failing must not stop the others
                log.warning("editing the %s post in %s failed: %r", week.label, claim.channel, exc)
                not_edited.append(f"{claim.channel}: {exc}")
                continue
            edited.append(f"{claim.channel} {claim.ts}")
    return edited, not_edited

"""Forgetting a person end to end: the deletion, which owes the edits of their past award
posts, then those edits, made at once and re-driven until Slack takes them. Exports and the
`mydata` inventory are read straight from storage."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from jobs.award_rules import AwardRules, build_post
from jobs.awards import post_key, public_awards
from jobs.file_deletes import FileDeleter, NotDone, delete_owed_now
from jobs.posting import DEFAULT_POLICY, RATE_LIMITED, Post, PostPolicy, PostRejected
from jobs.weeks import Week
from storage.award_edits import defer_award_edit, owed_award_edits, settle_award_edit
from storage.awards import week_awards
from storage.db import Database
from storage.outbox import outbox_item
from storage.posts import post_claims
from storage.privacy import forget
from storage.privacy_records import Forgotten, Subject
from storage.records import OwedEdit, PostClaim

log = logging.getLogger(__name__)


class PostEditor(Protocol):
    """The far side that rewrites a message already posted (`chat.update` in Slack), and
    finds one by its post key when its outcome was never known (`conversations.history`)."""

    def update(self, channel: str, ts: str, post: Post) -> None: ...

    def find_post(self, channel: str, post_key: str, since: datetime) -> str | None: ...


class HomeEraser(FileDeleter, Protocol):
    """The far side that shows the person's App Home: empties their tab (`views.publish` in
    Slack; `erase` returns what could not be done, marked `rate_limited` for a 429, which
    nothing keeps owed: their next open of the Home publishes it anyway) and deletes the
    chart files uploaded for it (`files.delete`)."""

    def erase(self, slack_user_id: str | None) -> list[NotDone]: ...

    def empty_ahead(self, slack_user_id: str) -> None:
        """Publish their emptied tab before the deletion commits: best effort, at once,
        never raising (a 429 is handed back, not waited out)."""
        ...


@dataclass(frozen=True, slots=True)
class EditReport:
    """What one pass over the owed award-post edits did: messages rewritten ("channel ts"),
    those Slack refused ("WEEK in CHANNEL: why"), and those that must wait for their post
    to be delivered first (same form). Refused and waiting edits stay owed. `rate_limited`
    names those of the refused that Slack rate-limited ("WEEK in CHANNEL"): made by the
    re-drive once Slack's Retry-After is over."""

    edited: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    rate_limited: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ForgetReport:
    """What a forget deleted, and which award posts were rewritten (or are still owed).
    What Slack rate-limited is apart from what it refused: the Home tab (published again
    at the person's next open) and the chart files left owed for the delete job."""

    forgotten: Forgotten
    edits: EditReport = field(default_factory=EditReport)
    home_not_erased: list[str] = field(default_factory=list)  # what Slack refused, and why
    home_rate_limited: bool = False
    files_rate_limited: int = 0


def forget_person(
    db: Database,
    subject: Subject,
    *,
    actor: str,
    now: datetime,
    editor: PostEditor | None,
    rules: AwardRules,
    home: HomeEraser | None = None,
    policy: PostPolicy = DEFAULT_POLICY,
) -> ForgetReport:
    """Delete everything about `subject` (one transaction, which also owes the edits of
    the award posts that named them), then make every owed edit at once and empty their
    App Home. What Slack refuses is reported and stays owed; the deletion stands."""
    if home is not None and subject.slack_user_id:
        # Before the deletion as well as after: once it commits their Slack ID is stored
        # nowhere (the tombstones are hashed), so a forget by email or identity killed
        # before the erase below could not be finished by a rerun. The erase after the
        # commit still runs: a Home opened in between shows their figures again.
        home.empty_ahead(subject.slack_user_id)
    forgotten = forget(db, subject, actor=actor, now=now)
    # Every owed week, not only theirs: a rerun after an outage is how an operator asks.
    edits = edit_owed_award_posts(db, editor, rules, now, policy, due_only=False)
    home_undone: list[NotDone] = []
    files_undone: list[NotDone] = []
    files = forgotten.chart_files
    if home is not None and (subject.slack_user_id or files):
        home_undone = home.erase(subject.slack_user_id)
        # Owed (to nobody) by the forget itself: what is not deleted now, the job deletes.
        files_undone = delete_owed_now(db, home, files, now)
        for undone in files_undone:
            log.warning("after a forget, Slack did not take: %s", undone.line)
    elif files:  # without a token there is no Home, but files were uploaded
        files_undone = [
            NotDone(f"chart file {f}: SLACK_BOT_TOKEN is not set; still owed") for f in files
        ]
    refused = [n.line for n in home_undone + files_undone if not n.rate_limited]
    home_limited = any(n.rate_limited for n in home_undone)
    files_limited = sum(n.rate_limited for n in files_undone)
    return ForgetReport(forgotten, edits, refused, home_limited, files_limited)


def edit_owed_award_posts(
    db: Database,
    editor: PostEditor | None,
    rules: AwardRules,
    now: datetime,
    policy: PostPolicy = DEFAULT_POLICY,
    *,
    due_only: bool = True,
) -> EditReport:
    """Rewrite the award posts of every week owed an edit (only those due, when `due_only`)
    from what is stored now, where the forgotten person's badge is held by the anonymous
    placeholder, which is never named. A week stays owed until each of its channels' message
    is rewritten or is known never to have been posted."""
    report = EditReport()
    for owed in owed_award_edits(db, now if due_only else None):
        limited: dict[str, float] = {}  # rate-limited edits, and Slack's Retry-After
        try:
            failed, waiting = _edit_week(
                db, owed, editor, rules, now, policy, report.edited, limited
            )
        except Exception as exc:  # one broken week must not stop the others
            log.exception("editing the award posts of %s failed", Week(owed.week_start).label)
            failed, waiting = [f"{Week(owed.week_start).label}: {exc!r}"], []
            limited.clear()  # the week failed whole: not for Slack's rate limit alone
        report.failed.extend(failed)
        report.waiting.extend(waiting)
        report.rate_limited.extend(limited)
        if not failed and not waiting:
            if settle_award_edit(db, owed):
                log.info("award posts of %s rewritten", Week(owed.week_start).label)
            continue
        wait = policy.backoff(owed.attempts + 1)
        # Not before Slack's Retry-After is over (`retry_after` is held to minutes).
        wait = max([wait, *(timedelta(seconds=seconds) for seconds in limited.values())])
        defer_award_edit(db, owed, "; ".join(failed or waiting), now + wait)
    return report


def _edit_week(
    db: Database,
    owed: OwedEdit,
    editor: PostEditor | None,
    rules: AwardRules,
    now: datetime,
    policy: PostPolicy,
    edited: list[str],
    limited: dict[str, float],
) -> tuple[list[str], list[str]]:
    week = Week(owed.week_start)
    key = post_key(week)
    # Built after the owed row was read, so a forget since then bumps its generation and
    # keeps the week owed for another pass.
    awards = public_awards(db, week_awards(db, week.start))
    post = Post(key, build_post(week.label, week.start, week.end, awards, rules))
    item = outbox_item(db, key)
    delivering = item is not None and item.status == "pending"
    failed: list[str] = []
    waiting: list[str] = []
    for claim in post_claims(db, key):
        where = f"{week.label} in {claim.channel}"
        if editor is None:
            failed.append(f"{where}: SLACK_BOT_TOKEN is not set")
            continue
        ts = claim.ts if claim.status == "posted" else None
        if ts is None:
            if reason := _wait_for(claim, delivering, now, policy):
                waiting.append(f"{where}: {reason}")
                continue
            # Nobody will deliver this post again, and it may have been made built from
            # the awards as they were: look for it, as a takeover would.
            try:
                ts = editor.find_post(claim.channel, key, claim.claimed_at)
            except Exception as exc:
                if isinstance(exc, PostRejected) and exc.error == RATE_LIMITED:
                    limited[where] = exc.retry_after or 0.0
                failed.append(f"{where}: {exc}")
                continue
            if ts is None:
                continue  # never posted there: nothing names them
        try:
            editor.update(claim.channel, ts, post)
        except PostRejected as exc:
            if exc.error == "message_not_found":
                continue  # deleted in Slack: it names nobody any more
            if exc.error == RATE_LIMITED:
                limited[where] = exc.retry_after or 0.0
            log.warning("editing the %s post in %s failed: %s", week.label, claim.channel, exc)
            failed.append(f"{where}: {exc}")
            continue
        except Exception as exc:  # one channel failing must not stop the others
            log.warning("editing the %s post in %s failed: %r", week.label, claim.channel, exc)
            failed.append(f"{where}: {exc}")
            continue
        edited.append(f"{claim.channel} {ts}")
    if delivering and not waiting:
        # A post still owed may be going out built from the awards before the forget.
        waiting.append(f"{week.label}: its post is still being delivered; edited after")
    return failed, waiting


def _wait_for(claim: PostClaim, delivering: bool, now: datetime, policy: PostPolicy) -> str:
    """Why a channel whose post is not known to be made must wait before its edit; empty
    when it may be looked for now."""
    if claim.status == "claimed" and (
        claim.lease_until is not None and claim.lease_until + policy.grace > now
    ):
        return "its post is being made; edited after"
    if delivering:
        return f"its post is {claim.status}; edited once the re-drive finds or makes it"
    if claim.check_after is not None and claim.check_after > now:
        return f"its post is {claim.status}; looked for from {claim.check_after:%Y-%m-%d %H:%M} UTC"
    return ""

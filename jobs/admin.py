"""Retiring and restoring the leaderboard, and the admin status: every admin action checked,
carried out once, posted through the exactly-once poster, and written to the audit log.

Slack and the command line both come through `AdminService`; the Slack side is handed in as
a `Notifier` (or None, when no bot token is configured)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from jobs.admin_rules import (
    Actor,
    AlreadyRetired,
    Announcement,
    NotRetired,
    PostState,
    Refused,
    Restored,
    RetireCancelled,
    RetireClosed,
    RetireDone,
    RetirePreview,
    StatusReport,
    announcement_or_default,
    is_admin,
    who_can,
)
from jobs.awards import AWARD_KEY_PREFIX
from jobs.posting import ChannelResult, Notifier, Post, PostPolicy, deliver, outbox_entry
from jobs.schedule.wall_clock import first_fire_at
from jobs.weeks import Week, current_week, last_complete_week
from storage.admin import (
    cancel_retirement,
    confirm_retirement,
    get_retirement,
    record_audit,
    request_retirement,
    restore_leaderboard,
)
from storage.award_edits import owed_award_edits
from storage.connectors import connector_states
from storage.db import Database
from storage.integrations import list_integrations
from storage.integrity import week_flags
from storage.leaderboard import leaderboard_state
from storage.outbox import recent_posts
from storage.posts import claims_for, last_posts
from storage.records import OwedPost

# How many delivered or cancelled posts the status shows besides every one still owed.
STATUS_CLOSED_POSTS = 5


@dataclass(frozen=True, slots=True)
class AdminConfig:
    """What admin actions need from settings."""

    admins: tuple[str, ...]
    workspace_admins: bool
    channels: tuple[str, ...]
    schedule: str
    tz: ZoneInfo
    posting: PostPolicy = field(default_factory=PostPolicy)


def retire_post_key(retirement_id: int) -> str:
    return f"retire:{retirement_id}"


def resume_week(schedule: str, tz: ZoneInfo, now: datetime) -> Week:
    """The first week awarded after a restore at `now`: the one the next scheduled run
    (at or after `now`) posts. Weeks before it were retired and are never posted."""
    return last_complete_week(first_fire_at(schedule, tz, now), tz)


class AdminService:
    """Admin commands for any surface. Each method checks the actor, does the work at most
    once, and audits what happened (refusals included)."""

    def __init__(
        self,
        db: Database,
        config: AdminConfig,
        clock: Callable[[], datetime],
        notifier: Notifier | None,
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.notifier = notifier

    def allowed(self, actor: Actor) -> bool:
        return is_admin(
            actor.user_id, self.config.admins, self.config.workspace_admins, actor.slack_says_admin
        )

    def _refuse(self, actor: Actor, command: str) -> Refused:
        self._audit(actor, command, "refused", "not an admin")
        return Refused(command, who_can(self.config.admins, self.config.workspace_admins))

    def _audit(self, actor: Actor, action: str, outcome: str, detail: str | None = None) -> None:
        via = f"via {actor.via}"
        record_audit(
            self.db,
            actor.user_id,
            action,
            outcome,
            self.clock(),
            f"{via}: {detail}" if detail else via,
        )

    # -- retire -------------------------------------------------------------------------------

    def request_retire(self, actor: Actor, text: str) -> Refused | AlreadyRetired | RetirePreview:
        """Store a pending retirement and return its preview; nothing is retired yet."""
        if not self.allowed(actor):
            return self._refuse(actor, "retire")
        state = leaderboard_state(self.db)
        if state.retired:
            self._audit(actor, "retire", "already", "the leaderboard is already retired")
            return AlreadyRetired(state)
        announcement = announcement_or_default(text)
        pending = request_retirement(self.db, announcement, actor.user_id, self.clock())
        self._audit(actor, "retire", "pending", f"retirement {pending.id}: {announcement}")
        return RetirePreview(pending, Announcement("retired", announcement), self.config.channels)

    def confirm_retire(
        self, actor: Actor, retirement_id: int
    ) -> Refused | RetireDone | RetireClosed:
        """Retire the leaderboard and announce it, once: a second click, or a second admin,
        gets who retired it and when, and nothing is posted again."""
        if not self.allowed(actor):
            return self._refuse(actor, "retire-confirm")
        confirmed = confirm_retirement(
            self.db,
            retirement_id,
            actor.user_id,
            self.clock(),
            announce=lambda text: self._owed(
                retire_post_key(retirement_id), Announcement("retired", text)
            ),
        )
        if confirmed is None:
            closed = RetireClosed(
                get_retirement(self.db, retirement_id), leaderboard_state(self.db)
            )
            status = closed.retirement.status if closed.retirement else "unknown id"
            self._audit(actor, "retire-confirm", "already", f"retirement {retirement_id}: {status}")
            return closed
        retirement = confirmed.retirement
        self._audit_closed(actor, confirmed.superseded, f"confirming retirement {retirement.id}")
        results, unposted = self._announce(
            retire_post_key(retirement.id), Announcement("retired", retirement.announcement)
        )
        self._audit(
            actor,
            "retire-confirm",
            "done",
            f"retirement {retirement.id}; announcement: {unposted or _summary(results)}",
        )
        return RetireDone(retirement, results, unposted)

    def cancel_retire(
        self, actor: Actor, retirement_id: int
    ) -> Refused | RetireCancelled | RetireClosed:
        if not self.allowed(actor):
            return self._refuse(actor, "retire-cancel")
        if cancel_retirement(self.db, retirement_id, actor.user_id, self.clock()):
            self._audit(actor, "retire-cancel", "done", f"retirement {retirement_id}")
            cancelled = get_retirement(self.db, retirement_id)
            assert cancelled is not None
            return RetireCancelled(cancelled)
        closed = RetireClosed(get_retirement(self.db, retirement_id), leaderboard_state(self.db))
        self._audit(actor, "retire-cancel", "already", f"retirement {retirement_id}")
        return closed

    def retire_now(
        self, actor: Actor, text: str
    ) -> Refused | AlreadyRetired | RetireDone | RetireClosed:
        """Request and confirm in one step, for operators' scripts (the preview is the
        script's own text)."""
        preview = self.request_retire(actor, text)
        if not isinstance(preview, RetirePreview):
            return preview
        return self.confirm_retire(actor, preview.retirement.id)

    def _audit_closed(self, actor: Actor, retirement_ids: Sequence[int], by_what: str) -> None:
        """Audit each pending retirement that `by_what` cancelled, as a cancel click is."""
        for retirement_id in retirement_ids:
            self._audit(
                actor, "retire-cancel", "done", f"retirement {retirement_id}: closed by {by_what}"
            )

    # -- restore and status -------------------------------------------------------------------

    def restore(self, actor: Actor, note: str = "") -> Refused | NotRetired | Restored:
        """Bring the leaderboard back, and awards from the next scheduled week; post `note`
        to the award channels when one is given."""
        if not self.allowed(actor):
            return self._refuse(actor, "restore")
        now = self.clock()
        week = resume_week(self.config.schedule, self.config.tz, now)
        key = f"restore:{now.strftime('%Y%m%dT%H%M%S%f')}"
        owed = self._owed(key, Announcement("restored", note.strip())) if note.strip() else None
        closed = restore_leaderboard(self.db, actor.user_id, now, week.start, note=owed)
        if closed is None:
            self._audit(actor, "restore", "already", "the leaderboard is not retired")
            return NotRetired()
        self._audit_closed(actor, closed, "the restore")
        results: list[ChannelResult] = []
        unposted = None
        if note.strip():
            results, unposted = self._announce(key, Announcement("restored", note.strip()))
        posted = f"; note: {unposted or _summary(results)}" if note.strip() else ""
        self._audit(actor, "restore", "done", f"awards resume with {week.label}{posted}")
        return Restored(leaderboard_state(self.db), week, results, unposted)

    def status(self, actor: Actor) -> Refused | StatusReport:
        if not (actor.operator or self.allowed(actor)):
            return self._refuse(actor, "status")
        now = self.clock()
        state = leaderboard_state(self.db)
        next_fire = None
        next_week = None
        if not state.retired:
            next_fire = first_fire_at(self.config.schedule, self.config.tz, now)
            next_week = last_complete_week(next_fire, self.config.tz)
        week = current_week(now, self.config.tz)
        flags = week_flags(self.db, week.start)
        report = StatusReport(
            state=state,
            schedule=self.config.schedule,
            tz=self.config.tz,
            next_fire=next_fire,
            next_week=next_week,
            channels=self.config.channels,
            last_posts=last_posts(self.db, AWARD_KEY_PREFIX),
            integrations=list_integrations(self.db),
            week=week,
            flags_this_week=len(flags),
            posts=self._post_states(),
            connectors=tuple(connector_states(self.db).values()),
            owed_edits=tuple(owed_award_edits(self.db)),
        )
        self._audit(actor, "status", "done")
        return report

    def _post_states(self) -> list[PostState]:
        items = recent_posts(self.db, STATUS_CLOSED_POSTS)
        claims = claims_for(self.db, [item.post_key for item in items])
        return [PostState(item, tuple(claims[item.post_key])) for item in items]

    def _owed(self, key: str, announcement: Announcement) -> OwedPost | None:
        """The announcement as an outbox row, written with the change it announces."""
        if not self.config.channels:
            return None
        kind, payload = outbox_entry(announcement)
        return OwedPost(key, kind, payload, self.config.channels)

    def _announce(
        self, key: str, announcement: Announcement
    ) -> tuple[list[ChannelResult], str | None]:
        if not self.config.channels:
            return [], "no award channels are set (AIUSAGE_AWARD_CHANNELS)"
        if self.notifier is None:
            return [], "SLACK_BOT_TOKEN is not set"
        post = Post(key, announcement)
        return deliver(
            self.db,
            self.notifier,
            post,
            self.config.channels,
            self.clock,
            policy=self.config.posting,
        ), None


def _summary(results: Sequence[ChannelResult]) -> str:
    return ", ".join(
        f"{r.channel} {r.status}" + (f" ({r.error})" if r.error else "") for r in results
    )

"""Tables that make each Slack post and scheduled run happen once, and the admin acts they
announce: claims on posts, the outbox, award-post edits owed since a forget, App Home chart
files owed a delete, the leaderboard's state, retirements, the audit log, job runs, and
replies owed after an ack. The usage tables are in `storage.models`; `storage.schema`
gathers both."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UTCDateTime


class PostRow(Base):
    """A claim on one Slack post (an award week or an announcement) to one channel, taken
    before posting and completed with the message ts, so nothing is posted twice."""

    __tablename__ = "posts"
    __table_args__ = (UniqueConstraint("post_key", "channel"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_key: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(
        String(16)
    )  # claimed | posted | failed | unknown | undeliverable
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the first claim, kept
    ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A `claimed` row is its holder's until the lease runs out (the holder heartbeats);
    # a `failed` or `unknown` one is checked in the channel again from `check_after`.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    check_after: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxRow(Base):
    """A post still owed to its channels: written in the same transaction as what it tells
    (a retirement, a restore) or before the first claim, and re-driven until every channel
    has it. `payload` is the post's data where it cannot be rebuilt from other tables."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("post_key"), Index("ix_outbox_status", "status"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_key: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[Any | None] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | done | cancelled
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AwardEditRow(Base):
    """A week whose award posts must be rewritten because someone they may name was
    forgotten: owed in the forget's own transaction, so neither a Slack outage nor a crash
    loses the edit, and kept until every channel's message is rewritten (or never came)."""

    __tablename__ = "award_edits"
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    # Bumped by every forget that owes the week again: an edit made from data read before a
    # later forget must not clear what that forget owes.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    owed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    check_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(200))  # channels and Slack's words only


class OwedFileRow(Base):
    """A Slack file (an App Home chart) owed a `files.delete`: written in the transaction that
    replaces it as the person's chart, or before its upload is finished, and deleted once
    Slack has deleted it or says it is gone. Retried from `not_before`; given up after a
    bound (`jobs.file_deletes`)."""

    __tablename__ = "owed_file_deletes"
    file_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Whose chart it showed, so their forget deletes it too; NULL once nobody's (a forget
    # that could not delete it leaves it owed, tied to no one).
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    owed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failures; 429s do not count
    not_before: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    error: Mapped[str | None] = mapped_column(String(200))  # Slack's word for the last failure


class LeaderboardStateRow(Base):
    """The single row saying whether the leaderboard is active or retired, and since when."""

    __tablename__ = "leaderboard_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # active | retired
    announcement: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(32))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resume_week: Mapped[date | None] = mapped_column(Date)


class RetirementRow(Base):
    """A retirement an admin asked for; the confirm button carries only its id."""

    __tablename__ = "retirements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    announcement: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # pending | confirmed | cancelled
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """Who did what, when, with what outcome."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)


class JobRunRow(Base):
    """A scheduled job's run for one due time: the replica that claimed it, and whether it
    finished. The key makes a due time claimable once across replicas."""

    __tablename__ = "job_runs"
    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OwedReplyRow(Base):
    """A reply owed through a slash command's `response_url` after an empty ack: written
    before the ack and deleted once the reply went (or Slack refused it), so a process that
    died in between leaves it to be answered again; one the re-drive answered is kept,
    emptied, as answered (a fence for a stalled first holder). Lives at most 30 minutes, as
    the URL."""

    __tablename__ = "owed_replies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), index=True)
    text: Mapped[str] = mapped_column(Text)  # the command's text as typed
    # A capability (anyone holding it may reply in the caller's name): never logged.
    response_url: Mapped[str] = mapped_column(Text)
    team_id: Mapped[str | None] = mapped_column(String(32))  # as the payload named them
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    holder: Mapped[str] = mapped_column(String(128))  # the process answering it
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

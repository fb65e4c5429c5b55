"""Forgetting one person, and the tombstones that keep them forgotten at every door.

Forgetting deletes the person's events, rollup, identities, flags, profile, the claims
of the direct messages sent to them and the replies owed to them in one transaction, keeps
their awards under an anonymous placeholder, scrubs their identifiers from the audit trail,
and leaves a keyed hash of each identity (never the identity itself) so usage that arrives
later for them is dropped at the door until they opt in again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, delete, func, insert, or_, select, update

from storage.award_edits import owe_award_edits
from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import (
    AwardRow,
    ConnectorStateRow,
    CopilotTeamRow,
    DailyRow,
    DigestRow,
    EventRow,
    ForgottenRow,
    IdentityRow,
    IntegrityFlagRow,
    MetaRow,
    PersonRow,
    TeamMemberRow,
)
from storage.owed_files import untie_person_files
from storage.post_models import (
    AuditRow,
    LeaderboardStateRow,
    OutboxRow,
    OwedReplyRow,
    PostRow,
    RetirementRow,
)
from storage.privacy_hold import claim_keys, hold, stored_now
from storage.privacy_read import ANONYMOUS_KEY, CHUNK
from storage.privacy_records import Forgotten, IdentityKey, Subject, redact
from storage.weekly import forget_weekly

SALT_KEY = "privacy_salt"
GENERATION_KEY = "privacy_generation"
FORGOTTEN = "forgotten"  # what an audit actor or admin field naming a forgotten person becomes
SCRUBBED_DETAIL = "[removed: named a person who was since forgotten]"


# -- forgetting -----------------------------------------------------------------------------


def forget(db: Database, subject: Subject, *, actor: str, now: datetime) -> Forgotten:
    """Delete everything about `subject` in one transaction, audited by counts only, and
    leave hashed tombstones so later usage for them is dropped."""
    with db.write() as conn:
        result = forget_in(conn, subject, actor=actor, now=now)
    forget_cached(db, subject)
    return result


def forget_in(conn: Connection, subject: Subject, *, actor: str, now: datetime) -> Forgotten:
    keys = subject.keys()
    claimed = claim_keys(conn, keys, now)
    salt = _salt(conn)
    group = digest(salt, ("slack", subject.slack_user_id) if subject.slack_user_id else keys[0])
    conn.execute(
        insert_ignore(conn, ForgottenRow),
        [{"digest": digest(salt, key), "group_digest": group, "forgotten_at": now} for key in keys],
    )
    ids, pid = stored_now(conn, subject, keys, claimed)
    ids = hold(conn, ids, pid)
    counts = {
        "events": 0,
        "daily": 0,
        "identities": 0,
        "flags": 0,
        "awards_anonymised": 0,
        "team_memberships": 0,
        "copilot_teams": 0,
        "digest": 0,
        "direct_messages": 0,
        "owed_replies": 0,
    }
    for chunk in _chunks(ids):
        counts["events"] += _rowcount(conn, delete(EventRow).where(EventRow.identity_id.in_(chunk)))
        counts["daily"] += _rowcount(conn, delete(DailyRow).where(DailyRow.identity_id.in_(chunk)))
        counts["team_memberships"] += _rowcount(
            conn, delete(TeamMemberRow).where(TeamMemberRow.identity_id.in_(chunk))
        )
    # Copilot's user-teams report names GitHub logins, which need not be identities yet.
    logins = sorted({value.lower() for kind, value in keys if kind == "copilot"})
    if logins:
        counts["copilot_teams"] = _rowcount(
            conn, delete(CopilotTeamRow).where(func.lower(CopilotTeamRow.login).in_(logins))
        )
    weeks: list[date] = []
    chart_files: list[str] = []
    if pid is not None:
        # Their chart file and the old ones still owed a delete: deleted in Slack after this
        # transaction, and owed (to nobody) until then, so a failure or a kill keeps them.
        chart_files = untie_person_files(conn, pid, now)
        counts["digest"] = _rowcount(conn, delete(DigestRow).where(DigestRow.person_id == pid))
        forget_weekly(conn, pid)  # the weekly sums of the daily rows deleted above
        # Memberships of identities made since the subject was read go with them below.
        conn.execute(
            delete(TeamMemberRow).where(
                TeamMemberRow.identity_id.in_(
                    select(IdentityRow.id).where(IdentityRow.person_id == pid)
                )
            )
        )
        counts["flags"] = _rowcount(
            conn, delete(IntegrityFlagRow).where(IntegrityFlagRow.person_id == pid)
        )
        weeks = sorted(
            set(conn.scalars(select(AwardRow.week_start).where(AwardRow.person_id == pid)))
        )
        if weeks:
            counts["awards_anonymised"] = _rowcount(
                conn,
                update(AwardRow)
                .where(AwardRow.person_id == pid)
                .values(person_id=_anonymous_person(conn, now)),
            )
            # Owed with the forget itself, so a Slack outage or a crash before the edits
            # cannot leave the posts naming them with nothing left to say so.
            owe_award_edits(conn, weeks, now)
    for chunk in _chunks(ids):
        counts["identities"] += _rowcount(
            conn, delete(IdentityRow).where(IdentityRow.id.in_(chunk))
        )
    if claimed:  # made above, nothing stored for them
        conn.execute(delete(IdentityRow).where(IdentityRow.id.in_(claimed)))
    if pid is not None:
        # Identities made since the subject was read still point here; they go too.
        counts["identities"] += _rowcount(
            conn, delete(IdentityRow).where(IdentityRow.person_id == pid)
        )
        conn.execute(delete(PersonRow).where(PersonRow.id == pid))
    if subject.slack_user_id:
        # The claims of the direct messages sent to them (the digest), whose channel is their
        # Slack user ID. After the person row, whose lock a claim being taken holds until it
        # commits (`storage.posts`): one taken meanwhile is deleted here, and none is taken
        # after, so no DM is made to them again.
        counts["direct_messages"] = _rowcount(
            conn, delete(PostRow).where(PostRow.channel == subject.slack_user_id)
        )
        # Replies owed to them after an ack: the command's text and its response_url go, and
        # nothing answers it after the forget.
        counts["owed_replies"] = _rowcount(
            conn, delete(OwedReplyRow).where(OwedReplyRow.slack_user_id == subject.slack_user_id)
        )
    _scrub(conn, subject.needles())
    conn.execute(
        insert(AuditRow).values(
            at=now,
            actor=actor,
            action="people.forget",
            outcome="done",
            detail=" ".join(f"{k}={v}" for k, v in counts.items()),
        )
    )
    _bump_generation(conn)
    return Forgotten(counts, weeks, chart_files)


def forget_cached(db: Database, subject: Subject) -> None:
    """Drop the subject's identities from this process's identity cache."""
    gone = set(subject.identity_ids)
    for key in [*subject.keys(), *(k for k, v in list(db.identity_ids.items()) if v in gone)]:
        db.identity_ids.pop(key, None)


def clear_tombstones(db: Database, slack_user_id: str) -> int:
    """`/aiusage optin` after a forget: usage for the person's identities counts again."""
    with db.write() as conn:
        salt = _salt(conn)
        n = _rowcount(
            conn,
            delete(ForgottenRow).where(
                ForgottenRow.group_digest == digest(salt, ("slack", slack_user_id))
            ),
        )
        if n:
            _bump_generation(conn)
    return n


def is_forgotten(db: Database, slack_user_id: str) -> bool:
    """Whether this Slack user was forgotten and has not opted in since: their tombstones
    stand, whether or not a command has stored a profile for them again meanwhile."""
    with db.read() as conn:
        # Read, not made: without a salt nobody was ever forgotten.
        salt = conn.scalar(select(MetaRow.value).where(MetaRow.key == SALT_KEY))
        if salt is None:
            return False
        found = conn.scalar(
            select(ForgottenRow.digest)
            .where(ForgottenRow.group_digest == digest(salt, ("slack", slack_user_id)))
            .limit(1)
        )
    return found is not None


def forgotten_keys(conn: Connection, keys: Iterable[IdentityKey]) -> set[IdentityKey]:
    """Which of these identities belong to someone forgotten (usage for them is dropped)."""
    wanted = sorted(set(keys))
    if not wanted or conn.scalar(select(func.count()).select_from(ForgottenRow)) == 0:
        return set()
    salt = _salt(conn)
    by_digest = {digest(salt, key): key for key in wanted}
    found: set[IdentityKey] = set()
    for chunk in _chunks(sorted(by_digest)):
        found.update(
            by_digest[d]
            for d in conn.scalars(select(ForgottenRow.digest).where(ForgottenRow.digest.in_(chunk)))
        )
    return found


def generation(db: Database) -> str:
    """Changes whenever a forget or an opt-in changes who is forgotten: lets another process
    know its identity cache may hold identities that are gone."""
    with db.read() as conn:
        return conn.scalar(select(MetaRow.value).where(MetaRow.key == GENERATION_KEY)) or "0"


def digest(salt: str, key: IdentityKey) -> str:
    """A keyed hash of an identity: matches it again without keeping it."""
    kind, value = key
    return hmac.new(salt.encode(), f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


# -- helpers --------------------------------------------------------------------------------


def _scrub(conn: Connection, needles: Sequence[str]) -> None:
    """Take the person's identifiers out of the audit trail and the admin records: the audit
    keeps that something happened, not who it was about."""
    if not needles:
        return
    conn.execute(update(AuditRow).where(AuditRow.actor.in_(needles)).values(actor=FORGOTTEN))
    for model, columns in (
        (RetirementRow, ("requested_by", "decided_by")),
        (LeaderboardStateRow, ("changed_by",)),
        (IdentityRow, ("linked_by",)),
    ):
        for name in columns:
            col = getattr(model, name)
            conn.execute(update(model).where(col.in_(needles)).values({name: FORGOTTEN}))
    # Free text: any detail that mentions them is replaced whole, so no part of an
    # identifier (or what it said about them) is left behind.
    matches = _mentions(AuditRow.detail, needles)
    conn.execute(update(AuditRow).where(matches).values(detail=SCRUBBED_DETAIL))
    retired = _mentions(RetirementRow.announcement, needles)
    conn.execute(update(RetirementRow).where(retired).values(announcement=SCRUBBED_DETAIL))
    failed = _mentions(ConnectorStateRow.last_error, needles)
    conn.execute(update(ConnectorStateRow).where(failed).values(last_error=SCRUBBED_DETAIL))
    board = _mentions(LeaderboardStateRow.announcement, needles)
    conn.execute(update(LeaderboardStateRow).where(board).values(announcement=SCRUBBED_DETAIL))
    # An announcement keeps its text in the outbox. One still owed is posted with the
    # person's identifiers replaced by a neutral word (the news it carries, a retirement or a
    # restore, is still owed to the channel); one already posted or cancelled is never read
    # again, so its text is replaced whole, like the audit's.
    payload = cast(OutboxRow.payload, Text)
    named = or_(_mentions(payload, needles), _mentions(OutboxRow.detail, needles))
    rows = conn.execute(
        select(OutboxRow.id, OutboxRow.kind, OutboxRow.status, OutboxRow.payload).where(named)
    ).all()
    for row_id, kind, status, data in rows:
        scrubbed = None
        if isinstance(data, dict):
            text = SCRUBBED_DETAIL
            if status == "pending":
                text = redact(str(data.get("text", "")), needles)
            scrubbed = {"kind": data.get("kind", kind), "text": text}
        conn.execute(
            update(OutboxRow).where(OutboxRow.id == row_id).values(payload=scrubbed, detail=None)
        )


def _mentions(column: Any, needles: Sequence[str]) -> Any:
    """Free text that contains any of `needles`, in any case (an email or a GitHub login is
    the same whatever its case)."""
    text = func.lower(column)
    return or_(*(text.contains(n.lower(), autoescape=True) for n in needles))


def _anonymous_person(conn: Connection, now: datetime) -> int:
    """The one placeholder every forgotten person's awards move to: no name, no identity,
    opted out, so award history keeps its shape and names nobody."""
    found = conn.scalar(select(MetaRow.value).where(MetaRow.key == ANONYMOUS_KEY))
    if found is not None:
        return int(found)
    # Claimed before it is made: the first forgets of two winners at once (PostgreSQL) each
    # made one, and the second failed on the first's key. Now the second waits for the
    # first's claim and takes its placeholder.
    claim = insert_ignore(conn, MetaRow).values(key=ANONYMOUS_KEY, value="")
    if not _rowcount(conn, claim):
        found = conn.scalar(select(MetaRow.value).where(MetaRow.key == ANONYMOUS_KEY))
        assert found
        return int(found)
    person_id = conn.execute(
        insert(PersonRow)
        .values(created_at=now, opted_out=True, is_workspace_admin=False)
        .returning(PersonRow.id)
    ).scalar_one()
    conn.execute(update(MetaRow).where(MetaRow.key == ANONYMOUS_KEY).values(value=str(person_id)))
    return int(person_id)


def _salt(conn: Connection) -> str:
    conn.execute(insert_ignore(conn, MetaRow).values(key=SALT_KEY, value=secrets.token_hex(32)))
    value = conn.scalar(select(MetaRow.value).where(MetaRow.key == SALT_KEY))
    assert value is not None
    return value


def _bump_generation(conn: Connection) -> None:
    conn.execute(insert_ignore(conn, MetaRow).values(key=GENERATION_KEY, value="0"))
    current = conn.scalar(select(MetaRow.value).where(MetaRow.key == GENERATION_KEY)) or "0"
    conn.execute(
        update(MetaRow).where(MetaRow.key == GENERATION_KEY).values(value=str(int(current) + 1))
    )


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def _rowcount(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).rowcount or 0)

"""Everything stored about one person: find it, count it, export it, and forget it.

Forgetting deletes the person's events, rollup, identities, flags and profile in one
transaction, keeps their awards under an anonymous placeholder, scrubs their identifiers from
the audit trail, and leaves a keyed hash of each identity (never the identity itself) so usage
that arrives later for them is dropped at the door until they opt in again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import (
    AuditRow,
    AwardRow,
    DailyRow,
    EventRow,
    ForgottenRow,
    IdentityRow,
    IntegrityFlagRow,
    LeaderboardStateRow,
    MetaRow,
    PersonRow,
    RetirementRow,
)
from storage.privacy_records import Forgotten, IdentityKey, Inventory, Span, Subject

SALT_KEY = "privacy_salt"
GENERATION_KEY = "privacy_generation"
ANONYMOUS_KEY = "anonymous_person_id"
FORGOTTEN = "forgotten"  # what an audit actor or admin field naming a forgotten person becomes
SCRUBBED_DETAIL = "[removed: named a person who was since forgotten]"
CHUNK = 500  # ids per IN list, well under every driver's parameter limit


# -- finding --------------------------------------------------------------------------------


def find_subject(
    db: Database, *, slack_user_id: str | None = None, identity: IdentityKey | None = None
) -> Subject | None:
    """The person with this Slack ID, or the person an identity is linked to (the identity
    alone when it is linked to nobody); None when nothing is stored."""
    with db.read() as conn:
        return subject_in(conn, slack_user_id=slack_user_id, identity=identity)


def subject_in(
    conn: Connection, *, slack_user_id: str | None = None, identity: IdentityKey | None = None
) -> Subject | None:
    person = None
    if slack_user_id is not None:
        person = conn.execute(
            select(PersonRow).where(PersonRow.slack_user_id == slack_user_id)
        ).one_or_none()
    elif identity is not None:
        kind, value = identity
        row = conn.execute(
            select(IdentityRow).where(IdentityRow.kind == kind, IdentityRow.value == value)
        ).one_or_none()
        if row is not None and row.person_id is None:
            return Subject(None, None, None, ((row.id, row.kind, row.value),))
        if row is not None:
            person = conn.execute(select(PersonRow).where(PersonRow.id == row.person_id)).one()
        elif kind == "email":
            person = conn.execute(select(PersonRow).where(PersonRow.email == value)).one_or_none()
        elif kind == "slack":
            person = conn.execute(
                select(PersonRow).where(PersonRow.slack_user_id == value)
            ).one_or_none()
    if person is None:
        return None
    # Their own Slack ID and email count even where not (yet) linked to them.
    own = [("slack", person.slack_user_id), ("email", person.email)]
    rows = conn.execute(
        select(IdentityRow.id, IdentityRow.kind, IdentityRow.value)
        .where(
            or_(
                IdentityRow.person_id == person.id,
                *(
                    (IdentityRow.kind == kind) & (IdentityRow.value == value)
                    for kind, value in own
                    if value
                ),
            )
        )
        .order_by(IdentityRow.id)
    )
    return Subject(
        person.id, person.slack_user_id, person.email, tuple((i, k, v) for i, k, v in rows)
    )


# -- counting and exporting -----------------------------------------------------------------


def inventory(db: Database, subject: Subject) -> Inventory:
    """Kinds, counts and date ranges of what is stored about `subject`."""
    ids = subject.identity_ids
    with db.read() as conn:
        profile = _profile(conn, subject.person_id)
        events = _span(conn, EventRow.day, EventRow.identity_id, ids)
        daily = _span(conn, DailyRow.day, DailyRow.identity_id, ids)
        pid = [subject.person_id] if subject.person_id is not None else []
        awards = _span(conn, AwardRow.week_start, AwardRow.person_id, pid)
        flags = _span(conn, IntegrityFlagRow.week_start, IntegrityFlagRow.person_id, pid)
        audit = 0
        if subject.slack_user_id:
            audit = conn.scalar(select(func.count()).where(AuditRow.actor == subject.slack_user_id))
    keys = [(k, v) for _, k, v in subject.identities]
    return Inventory(profile, keys, events, daily, awards, flags, int(audit or 0))


def export(db: Database, subject: Subject) -> dict[str, Any]:
    """Everything stored about `subject`, as plain JSON-ready data."""
    ids = subject.identity_ids
    with db.read() as conn:
        names = {i: f"{k}:{v}" for i, k, v in subject.identities}
        events = [
            {"identity": names[row.identity_id], **_plain(row, skip=("id", "identity_id"))}
            for chunk in _chunks(ids)
            for row in conn.execute(
                _all(EventRow).where(EventRow.identity_id.in_(chunk)).order_by(EventRow.id)
            )
        ]
        daily = [
            {"identity": names[row.identity_id], **_plain(row, skip=("id", "identity_id"))}
            for chunk in _chunks(ids)
            for row in conn.execute(
                _all(DailyRow).where(DailyRow.identity_id.in_(chunk)).order_by(DailyRow.id)
            )
        ]
        awards: list[dict[str, Any]] = []
        flags: list[dict[str, Any]] = []
        if subject.person_id is not None:
            awards = [
                _plain(row, skip=("id", "person_id"))
                for row in conn.execute(
                    _all(AwardRow).where(AwardRow.person_id == subject.person_id)
                )
            ]
            flags = [
                _plain(row, skip=("id", "person_id"))
                for row in conn.execute(
                    _all(IntegrityFlagRow).where(IntegrityFlagRow.person_id == subject.person_id)
                )
            ]
        audit = []
        if subject.slack_user_id:
            audit = [
                _plain(row, skip=("id",))
                for row in conn.execute(
                    _all(AuditRow)
                    .where(AuditRow.actor == subject.slack_user_id)
                    .order_by(AuditRow.at, AuditRow.id)
                )
            ]
        identities = [
            _plain(row, skip=("id", "person_id"))
            for chunk in _chunks(ids)
            for row in conn.execute(_all(IdentityRow).where(IdentityRow.id.in_(chunk)))
        ]
        return {
            "person": _profile(conn, subject.person_id),
            "identities": identities,
            "events": events,
            "daily_figures": daily,
            "awards": awards,
            "integrity_flags": flags,
            "audit_log": audit,
        }


# -- forgetting -----------------------------------------------------------------------------


def forget(db: Database, subject: Subject, *, actor: str, now: datetime) -> Forgotten:
    """Delete everything about `subject` in one transaction, audited by counts only, and
    leave hashed tombstones so later usage for them is dropped."""
    with db.write() as conn:
        result = forget_in(conn, subject, actor=actor, now=now)
    forget_cached(db, subject)
    return result


def forget_in(conn: Connection, subject: Subject, *, actor: str, now: datetime) -> Forgotten:
    ids = subject.identity_ids
    pid = subject.person_id
    salt = _salt(conn)
    keys = subject.keys()
    group = digest(salt, ("slack", subject.slack_user_id) if subject.slack_user_id else keys[0])
    conn.execute(
        insert_ignore(conn, ForgottenRow),
        [{"digest": digest(salt, key), "group_digest": group, "forgotten_at": now} for key in keys],
    )
    counts = {"events": 0, "daily": 0, "identities": 0, "flags": 0, "awards_anonymised": 0}
    for chunk in _chunks(ids):
        counts["events"] += _rowcount(conn, delete(EventRow).where(EventRow.identity_id.in_(chunk)))
        counts["daily"] += _rowcount(conn, delete(DailyRow).where(DailyRow.identity_id.in_(chunk)))
    weeks: list[date] = []
    if pid is not None:
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
    for chunk in _chunks(ids):
        counts["identities"] += _rowcount(
            conn, delete(IdentityRow).where(IdentityRow.id.in_(chunk))
        )
    if pid is not None:
        # Identities made since the subject was read still point here; they go too.
        counts["identities"] += _rowcount(
            conn, delete(IdentityRow).where(IdentityRow.person_id == pid)
        )
        conn.execute(delete(PersonRow).where(PersonRow.id == pid))
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
    return Forgotten(counts, weeks)


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
    matches = or_(*(AuditRow.detail.contains(n, autoescape=True) for n in needles))
    conn.execute(update(AuditRow).where(matches).values(detail=SCRUBBED_DETAIL))
    retired = or_(*(RetirementRow.announcement.contains(n, autoescape=True) for n in needles))
    conn.execute(update(RetirementRow).where(retired).values(announcement=SCRUBBED_DETAIL))
    board = or_(*(LeaderboardStateRow.announcement.contains(n, autoescape=True) for n in needles))
    conn.execute(update(LeaderboardStateRow).where(board).values(announcement=SCRUBBED_DETAIL))


def _anonymous_person(conn: Connection, now: datetime) -> int:
    """The one placeholder every forgotten person's awards move to: no name, no identity,
    opted out, so award history keeps its shape and names nobody."""
    found = conn.scalar(select(MetaRow.value).where(MetaRow.key == ANONYMOUS_KEY))
    if found is not None:
        return int(found)
    person_id = conn.execute(
        insert(PersonRow)
        .values(created_at=now, opted_out=True, is_workspace_admin=False)
        .returning(PersonRow.id)
    ).scalar_one()
    conn.execute(insert(MetaRow).values(key=ANONYMOUS_KEY, value=str(person_id)))
    return int(person_id)


def anonymous_person_id(db: Database) -> int | None:
    with db.read() as conn:
        found = conn.scalar(select(MetaRow.value).where(MetaRow.key == ANONYMOUS_KEY))
    return int(found) if found is not None else None


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


def _profile(conn: Connection, person_id: int | None) -> dict[str, Any]:
    if person_id is None:
        return {}
    row = conn.execute(_all(PersonRow).where(PersonRow.id == person_id)).one_or_none()
    return _plain(row, skip=("id",)) if row is not None else {}


def _span(conn: Connection, day: Any, owner: Any, owners: Sequence[int]) -> Span:
    count, first, last = 0, None, None
    for chunk in _chunks(list(owners)):
        n, lo, hi = conn.execute(
            select(func.count(), func.min(day), func.max(day)).where(owner.in_(chunk))
        ).one()
        count += int(n or 0)
        first = lo if first is None or (lo is not None and lo < first) else first
        last = hi if last is None or (hi is not None and hi > last) else last
    return Span(count, first, last)


def _plain(row: Any, skip: Sequence[str] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row._mapping.items():
        if name in skip:
            continue
        out[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return out


def _all(model: Any) -> Any:
    """SELECT of every column of a table, so rows come back as plain name-value mappings."""
    return select(*model.__table__.columns)


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def _rowcount(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).rowcount or 0)

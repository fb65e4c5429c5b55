"""Reading what is stored about one person: who they are, what kinds and how much
(`mydata`), and all of it (`people export`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from storage.db import Database
from storage.models import (
    AwardRow,
    CopilotTeamRow,
    DailyRow,
    DigestRow,
    EventRow,
    IdentityRow,
    IntegrityFlagRow,
    MetaRow,
    PersonRow,
    TeamMemberRow,
    TeamRow,
)
from storage.post_models import AuditRow, PostRow
from storage.privacy_records import IdentityKey, Inventory, Span, Subject, TeamSpell

ANONYMOUS_KEY = "anonymous_person_id"
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
        audit: int | None = 0
        if subject.slack_user_id:
            audit = conn.scalar(select(func.count()).where(AuditRow.actor == subject.slack_user_id))
        teams = sorted(
            {
                TeamSpell(
                    m["name"],
                    m["source"],
                    _local_day(m.get("since"), db),
                    _local_day(m.get("until"), db),
                    m.get("reported_on"),
                )
                for m in _memberships(conn, subject)
            },
            key=lambda t: (t.name, t.source, _in_time(t.since)),
        )
        digest_on = bool(_digest(conn, subject.person_id).get("enabled"))
    keys = [(k, v) for _, k, v in subject.identities]
    return Inventory(profile, keys, events, daily, awards, flags, int(audit or 0), teams, digest_on)


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
        direct_messages = []
        if subject.slack_user_id:
            # The digest DMs' claims: their channel is the person's Slack user ID.
            direct_messages = [
                _plain(row, skip=("id", "channel", "claimed_by", "lease_until", "check_after"))
                for row in conn.execute(
                    _all(PostRow)
                    .where(PostRow.channel == subject.slack_user_id)
                    .order_by(PostRow.post_key)
                )
            ]
        identities = [
            _plain(row, skip=("id", "person_id"))
            for chunk in _chunks(ids)
            for row in conn.execute(_all(IdentityRow).where(IdentityRow.id.in_(chunk)))
        ]
        memberships = _memberships(conn, subject)
        return {
            "person": _profile(conn, subject.person_id),
            "identities": identities,
            "events": events,
            "daily_figures": daily,
            "awards": awards,
            "integrity_flags": flags,
            "audit_log": audit,
            "teams": _teams(memberships),
            # Every spell, dated: `teams` alone cannot say when they were counted in one.
            "team_memberships": [
                {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in m.items()}
                for m in memberships
            ],
            "digest_subscription": _digest(conn, subject.person_id),
            "direct_messages": direct_messages,
        }


def anonymous_person_id(db: Database) -> int | None:
    with db.read() as conn:
        found = conn.scalar(select(MetaRow.value).where(MetaRow.key == ANONYMOUS_KEY))
    return int(found) if found is not None else None


def _memberships(conn: Connection, subject: Subject) -> list[dict[str, Any]]:
    """The person's spells in teams, through any identity, ended ones included (`since`,
    `until`: None for always, still), and the Copilot teams their GitHub login is listed
    in (`reported_on`: the day of that report, which gives no dates)."""
    names = {i: f"{k}:{v}" for i, k, v in subject.identities}
    found: list[dict[str, Any]] = []
    spells = select(
        TeamRow.name, TeamRow.source, TeamMemberRow.identity_id, TeamMemberRow.since,
        TeamMemberRow.until,
    ).join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)  # fmt: skip
    for chunk in _chunks(subject.identity_ids):
        for name, source, identity_id, since, until in conn.execute(
            spells.where(TeamMemberRow.identity_id.in_(chunk))
        ):
            identity = names[identity_id]
            found.append(
                {
                    "name": name,
                    "source": source,
                    "identity": identity,
                    "since": since,
                    "until": until,
                }
            )
    keys = subject.keys()
    logins = {value.lower(): value for kind, value in keys if kind == "copilot"}
    if logins:
        listed = select(CopilotTeamRow.team, CopilotTeamRow.login, CopilotTeamRow.day).where(
            func.lower(CopilotTeamRow.login).in_(sorted(logins))
        )
        for team, login, day in conn.execute(listed):
            identity = f"copilot:{logins[login.lower()]}"
            found.append(
                {"name": team, "source": "copilot report", "identity": identity, "reported_on": day}
            )
    # By team, then in time (an open start, always, first).
    return sorted(
        found,
        key=lambda m: (m["name"], m["source"], _in_time(m.get("since")), m["identity"]),
    )


def _teams(memberships: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each team once, by name and source: the export's shape before spells were dated."""
    found = {(m["name"], m["source"]) for m in memberships}
    return [{"name": name, "source": source} for name, source in sorted(found)]


def _in_time(start: date | None) -> tuple[bool, str]:
    return (start is not None, start.isoformat() if start is not None else "")


def _local_day(moment: datetime | None, db: Database) -> date | None:
    return None if moment is None else moment.astimezone(db.tz).date()


def _digest(conn: Connection, person_id: int | None) -> dict[str, Any]:
    if person_id is None:
        return {}
    row = conn.execute(_all(DigestRow).where(DigestRow.person_id == person_id)).one_or_none()
    return _plain(row, skip=("person_id",)) if row is not None else {}


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

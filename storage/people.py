"""People and the identities (Slack IDs, emails, vendor logins) their usage arrives under."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, bindparam, insert, or_, select, tuple_, update

from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import IdentityRow, PersonRow
from storage.person_writes import PersonGone, changed, write_for_person
from storage.post_models import AuditRow
from storage.records import Person

log = logging.getLogger(__name__)

IdentityKey = tuple[str, str]  # (kind, value): ("slack", "U123"), ("email", "a@b.c"), ...


def resolve_identities(
    conn: Connection,
    keys: Iterable[IdentityKey],
    now: datetime,
    *,
    made: set[IdentityKey] | None = None,
) -> dict[IdentityKey, int]:
    """Ids for these identities, creating any not seen before. A Slack ID brings its person
    into being; an email is linked to the person who already has it, if anyone does. Keys
    that had no identity row when looked up are added to `made`, if given."""
    wanted = sorted(set(keys))  # a fixed order keeps concurrent writers from deadlocking
    if not wanted:
        return {}
    if conn.dialect.name == "postgresql":
        return _resolve_pg(conn, wanted, now, made)
    found = _find(conn, wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        if made is not None:
            made.update(missing)
        conn.execute(
            insert_ignore(conn, IdentityRow),
            [{"kind": k, "value": v, "created_at": now} for k, v in missing],
        )
        found = _find(conn, wanted)
    unlinked = [key for key, (_, person_id) in found.items() if person_id is None]
    if unlinked:
        _link_to_known_people(conn, [(found[key][0], *key) for key in unlinked], now)
    return {key: identity_id for key, (identity_id, _) in found.items()}


def _resolve_pg(
    conn: Connection, wanted: list[IdentityKey], now: datetime, made: set[IdentityKey] | None
) -> dict[IdentityKey, int]:
    """`resolve_identities` on PostgreSQL: each step one statement over arrays, whatever the
    count. A batch of new people was five statements a row (insert, person, link, and the
    identities trigger fired by each link's own UPDATE), the larger part of its ingest."""
    kinds = [kind for kind, _ in wanted]
    values = [value for _, value in wanted]
    keys = {"kinds": kinds, "values": values}
    found = _find_pg(conn, keys)
    if len(found) < len(wanted):
        if made is not None:
            made.update(key for key in wanted if key not in found)
        # In key order, as the rows' locks are taken: concurrent writers queue, not deadlock.
        conn.exec_driver_sql(
            "INSERT INTO identities (kind, value, created_at) "
            "SELECT kind, value, %(now)s FROM unnest(%(kinds)s::text[], %(values)s::text[]) "
            "WITH ORDINALITY AS w (kind, value, n) ORDER BY n ON CONFLICT DO NOTHING",
            {**keys, "now": now},
        )
        found = _find_pg(conn, keys)
    unlinked = sorted(
        (identity_id, *key) for key, (identity_id, person_id) in found.items() if person_id is None
    )
    if unlinked:
        _link_pg(conn, unlinked, now)
    return {key: identity_id for key, (identity_id, _) in found.items()}


def _find_pg(
    conn: Connection, keys: dict[str, list[str]]
) -> dict[IdentityKey, tuple[int, int | None]]:
    rows = conn.exec_driver_sql(
        "SELECT i.id, i.kind, i.value, i.person_id FROM identities i "
        "JOIN unnest(%(kinds)s::text[], %(values)s::text[]) AS w (kind, value) "
        "ON i.kind = w.kind AND i.value = w.value",
        keys,
    )
    return {(kind, value): (identity_id, person_id) for identity_id, kind, value, person_id in rows}


def _link_pg(conn: Connection, unlinked: list[tuple[int, str, str]], now: datetime) -> None:
    """`_link_to_known_people` on PostgreSQL, in three statements: the people of new Slack
    IDs made, then every new identity linked to its person by one UPDATE."""
    slack_ids = sorted(value for _, kind, value in unlinked if kind == "slack")
    if slack_ids:
        conn.exec_driver_sql(
            "INSERT INTO people (slack_user_id, created_at, is_workspace_admin, opted_out) "
            "SELECT v, %(now)s, false, false FROM unnest(%(ids)s::text[]) "
            "WITH ORDINALITY AS s (v, n) ORDER BY n ON CONFLICT DO NOTHING",
            {"ids": slack_ids, "now": now},
        )
    emails = sorted(value for _, kind, value in unlinked if kind == "email")
    pairs = conn.exec_driver_sql(
        "SELECT 'slack', slack_user_id, id FROM people WHERE slack_user_id = ANY(%(ids)s) "
        "UNION ALL SELECT 'email', email, id FROM people WHERE email = ANY(%(emails)s)",
        {"ids": slack_ids, "emails": emails},
    )
    people = {(kind, value): person_id for kind, value, person_id in pairs}
    links = [
        (identity_id, people[(kind, value)])
        for identity_id, kind, value in unlinked
        if (kind, value) in people
    ]
    if links:
        # One statement, so the identities trigger (weekly marks) runs once, not per link.
        # Only those still unlinked: one linked since they were read (an admin's link that
        # committed while this waited on the row) stays as it was linked.
        conn.exec_driver_sql(
            "UPDATE identities AS i SET person_id = l.person, linked_by = 'auto', "
            "linked_at = %(now)s FROM unnest(%(ids)s::int8[], %(people)s::int8[]) "
            "AS l (id, person) WHERE i.id = l.id AND i.person_id IS NULL",
            {
                "ids": [identity_id for identity_id, _ in links],
                "people": [person_id for _, person_id in links],
                "now": now,
            },
        )


def _link_to_known_people(
    conn: Connection, unlinked: list[tuple[int, str, str]], now: datetime
) -> None:
    """Link new identities in bulk: a Slack ID to its person (created now if need be), an
    email to the person who has it. Vendor logins wait for a link by email or an admin."""
    slack_ids = sorted(value for _, kind, value in unlinked if kind == "slack")
    emails = sorted(value for _, kind, value in unlinked if kind == "email")
    if slack_ids:
        conn.execute(
            insert_ignore(conn, PersonRow),
            [
                {"slack_user_id": v, "created_at": now, "is_workspace_admin": False,
                 "opted_out": False}
                for v in slack_ids
            ],
        )  # fmt: skip
    people: dict[tuple[str, str], int] = {}
    for column, kind, values in ((PersonRow.slack_user_id, "slack", slack_ids),
                                 (PersonRow.email, "email", emails)):  # fmt: skip
        for start in range(0, len(values), 500):
            rows = conn.execute(
                select(column, PersonRow.id).where(column.in_(values[start : start + 500]))
            )
            people.update({(kind, cast(str, value)): person_id for value, person_id in rows})
    links = [
        {"identity": identity_id, "person": people[(kind, value)]}
        for identity_id, kind, value in unlinked
        if (kind, value) in people
    ]
    if links:
        conn.execute(
            update(IdentityRow)
            .where(IdentityRow.id == bindparam("identity"))
            .values(person_id=bindparam("person"), linked_by="auto", linked_at=now),
            links,
        )


def ensure_person(conn: Connection, slack_user_id: str, now: datetime) -> int:
    """The person with this Slack ID, created on first sight."""
    # Identity before person, the order `resolve_identities` takes them in: a Slack user's
    # first slash command and their first usage, on two replicas, would otherwise deadlock.
    conn.execute(
        insert_ignore(conn, IdentityRow),
        {"kind": "slack", "value": slack_user_id, "created_at": now},
    )
    conn.execute(
        insert_ignore(conn, PersonRow),
        {
            "slack_user_id": slack_user_id,
            "created_at": now,
            "is_workspace_admin": False,
            "opted_out": False,
        },
    )
    person_id = conn.scalar(select(PersonRow.id).where(PersonRow.slack_user_id == slack_user_id))
    assert person_id is not None
    conn.execute(
        update(IdentityRow)
        .where(
            IdentityRow.kind == "slack",
            IdentityRow.value == slack_user_id,
            IdentityRow.person_id.is_(None),
        )
        .values(person_id=person_id, linked_by="auto", linked_at=now)
    )
    return person_id


def _find(conn: Connection, keys: list[IdentityKey]) -> dict[IdentityKey, tuple[int, int | None]]:
    found: dict[IdentityKey, tuple[int, int | None]] = {}
    for chunk_start in range(0, len(keys), 500):
        chunk = keys[chunk_start : chunk_start + 500]
        rows = conn.execute(
            select(
                IdentityRow.id, IdentityRow.kind, IdentityRow.value, IdentityRow.person_id
            ).where(tuple_(IdentityRow.kind, IdentityRow.value).in_(chunk))
        )
        for identity_id, kind, value, person_id in rows:
            found[(kind, value)] = (identity_id, person_id)
    return found


def _link(conn: Connection, identity_id: int, person_id: int, by: str, now: datetime) -> None:
    # Waits on a forget holding the identity; none updated is the identity deleted by it.
    changed(
        conn.execute(
            update(IdentityRow)
            .where(IdentityRow.id == identity_id)
            .values(person_id=person_id, linked_by=by, linked_at=now)
        ).rowcount
    )


def _person(row) -> Person:
    return Person(
        id=row.id,
        slack_user_id=row.slack_user_id,
        email=row.email,
        display_name=row.display_name,
        tz=row.tz,
        opted_out=row.opted_out,
    )


def link_identity(
    db: Database, kind: str, value: str, slack_user_id: str, by: str, now: datetime
) -> int:
    """Make an identity count as this Slack user's, from its first event on; returns the
    person id. Re-linking moves it. Met by the forget of either, it links what is left
    after it, as a link made just after it would (`storage.person_writes`)."""

    def link(conn: Connection) -> int:
        person_id = ensure_person(conn, slack_user_id, now)
        [identity_id] = resolve_identities(conn, [(kind, value)], now).values()
        _link(conn, identity_id, person_id, by, now)
        if kind == "email":
            # A person's own email counts as theirs in `mydata`, export and forget: the one
            # it was moved from must not keep it.
            _drop_email_elsewhere(conn, value, person_id)
        return person_id

    return write_for_person(db, link)


def link_email(db: Database, email: str, slack_user_id: str, now: datetime) -> int:
    """Record that Slack knows this email as this user, and count the email's usage as theirs.
    An email whose usage already counts for another Slack user is left where it is, logged
    and audited: Slack reuses addresses, and their history is not the newcomer's. An admin
    moves it with `aiusage people link`."""
    email = email.lower()

    def held(conn: Connection) -> bool:
        """Whether the email counts for another Slack user, audited if so."""
        holder = conn.execute(
            select(IdentityRow.id, PersonRow.slack_user_id)
            .join(PersonRow, PersonRow.id == IdentityRow.person_id)
            .where(IdentityRow.kind == "email", IdentityRow.value == email)
        ).one_or_none()
        if holder is None or holder.slack_user_id in (None, slack_user_id):
            return False
        _hold_email(conn, holder.id, email, holder.slack_user_id, slack_user_id, now)
        return True

    def note(conn: Connection) -> tuple[int, bool]:
        person_id = ensure_person(conn, slack_user_id, now)
        if held(conn):
            return person_id, False
        _drop_email_elsewhere(conn, email, person_id)
        update_person = update(PersonRow).where(PersonRow.id == person_id).values(email=email)
        changed(conn.execute(update_person).rowcount)
        return person_id, True

    def link(conn: Connection) -> int:
        # Asked again, its row locked: an admin's link of the email that committed since
        # `note` (or waited on the row with this one) stands, as one made before it would.
        person_id = ensure_person(conn, slack_user_id, now)
        [identity_id] = resolve_identities(conn, [("email", email)], now).values()
        lock = select(IdentityRow.id).where(IdentityRow.id == identity_id).with_for_update()
        if conn.execute(lock).first() is None:
            raise PersonGone  # deleted by a forget this waited on: run again after it
        if not held(conn):
            _link(conn, identity_id, person_id, "slack-lookup", now)
            _drop_email_elsewhere(conn, email, person_id)
        return person_id

    person_id, moved = write_for_person(db, note)
    return write_for_person(db, link) if moved else person_id


# A contested address is audited again at most weekly while nobody decides, however often the
# newcomer's profile is read (an admin's every five minutes): a reminder, not a flood.
CONTESTED_EMAIL_NOTICE = timedelta(days=7)


def _hold_email(
    conn: Connection, identity_id: int, email: str, holder: str, claimant: str, now: datetime
) -> None:
    """Leave a contested email with its holder, and tell the operators."""
    detail = (
        f"email:{email} counts for {holder}; Slack now gives it to {claimant}. Not moved: "
        f"if it is {claimant}'s usage, `aiusage people link {email} {claimant}` moves it"
    )
    told = conn.scalar(
        select(AuditRow.id)
        .where(
            AuditRow.at > now - CONTESTED_EMAIL_NOTICE,
            AuditRow.action == "people.link",
            AuditRow.detail == detail,
        )
        .limit(1)
    )
    if told is not None:
        return
    conn.execute(
        insert(AuditRow).values(
            at=now, actor="slack-lookup", action="people.link", outcome="refused", detail=detail
        )
    )
    # The address stays out of the logs, which nobody can ask to forget; the audit has it.
    log.warning(
        "email identity %d counts for %s; Slack now gives that address to %s: not moved "
        "(see `aiusage audit`; `aiusage people link` moves it)",
        identity_id,
        holder,
        claimant,
    )


def _drop_email_elsewhere(conn: Connection, email: str, person_id: int) -> None:
    conn.execute(
        update(PersonRow)
        .where(PersonRow.email == email, PersonRow.id != person_id)
        .values(email=None)
    )


def unlinked_emails(
    db: Database, limit: int = 100, attempted_before: datetime | None = None
) -> list[str]:
    """Emails seen in usage that no Slack user has been found for yet, oldest attempt first;
    with `attempted_before`, only those not tried since then."""
    where = [IdentityRow.kind == "email", IdentityRow.person_id.is_(None)]
    if attempted_before is not None:
        where.append(
            or_(
                IdentityRow.lookup_attempted_at.is_(None),
                IdentityRow.lookup_attempted_at < attempted_before,
            )
        )
    with db.read() as conn:
        rows = conn.execute(
            select(IdentityRow.value)
            .where(*where)
            .order_by(IdentityRow.lookup_attempted_at.nulls_first(), IdentityRow.id)
            .limit(limit)
        )
        return list(rows.scalars())


def note_lookup_attempt(db: Database, email: str, now: datetime) -> None:
    with db.write() as conn:
        conn.execute(
            update(IdentityRow)
            .where(IdentityRow.kind == "email", IdentityRow.value == email.lower())
            .values(lookup_attempted_at=now)
        )


def slack_user_for_email(db: Database, email: str) -> str | None:
    """The Slack user ID of the person known by this email, if anyone is."""
    with db.read() as conn:
        return conn.scalar(
            select(PersonRow.slack_user_id).where(
                PersonRow.email == email.lower(), PersonRow.slack_user_id.is_not(None)
            )
        )

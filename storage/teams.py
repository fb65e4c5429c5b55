"""Teams and who is in them. Members are identities, so a member named by email or vendor
login counts as soon as that identity is linked to a Slack user."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, distinct, func, or_, select, text, update

from storage.db import Database, lock_key
from storage.dialect import insert_ignore
from storage.models import IdentityRow, TeamMemberRow, TeamRow
from storage.people import IdentityKey
from storage.privacy_door import resolve_unforgotten, retry_after_forget


@dataclass(frozen=True, slots=True)
class TeamInfo:
    """A team as one source gave it: how many members, how many of them we can count."""

    name: str
    source: str
    members: int
    linked: int  # members whose identity is linked to a person
    updated_at: datetime


def replace_teams(
    db: Database,
    source: str,
    teams: Mapping[str, Sequence[IdentityKey]],
    now: datetime,
    external_ids: Mapping[str, str] | None = None,
) -> None:
    """Make `teams` everything `source` says from `now` on: members no longer given (and
    every member of a team no longer given) leave at `now`, new ones join at `now`, and the
    weeks before keep the members they had. Only the first teams ever given, by any
    source, have their members since always (a first import counts for the weeks before
    it); a team named later starts at `now` like any other join, or a new team of a
    week-old team plus one person would subtract to that person's ended week. One
    transaction, so a view never sees half an import."""
    # A new spell for someone being forgotten meanwhile waits for the forget and then fails
    # on their deleted identity (or their identity, made again after their forget committed,
    # is found forgotten); the second time round they are left out, as forgotten.
    retry_after_forget(db, now, lambda: _replace(db, source, teams, now, external_ids))


def _replace(
    db: Database,
    source: str,
    teams: Mapping[str, Sequence[IdentityKey]],
    now: datetime,
    external_ids: Mapping[str, str] | None,
) -> None:
    with db.write() as conn:
        if not db.is_sqlite:
            # One replacement of a source at a time (SQLite takes one writer anyway): two
            # that overlapped each read the teams before the other's, so the later kept
            # teams the earlier made that its own file no longer gives; and two making the
            # same new teams in their files' orders deadlocked.
            key = lock_key(conn, f"teams:{source}")
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        first_teams = conn.scalar(select(TeamRow.id).limit(1)) is None
        known = dict(
            conn.execute(select(TeamRow.name, TeamRow.id).where(TeamRow.source == source)).all()
        )
        gone = [team_id for name, team_id in known.items() if name not in teams]
        if gone:
            _leave(conn, select(TeamMemberRow.id).where(TeamMemberRow.team_id.in_(gone)), now)
            conn.execute(
                update(TeamRow)
                .where(TeamRow.id.in_(gone), TeamRow.removed_at.is_(None))
                .values(updated_at=now, removed_at=now)
            )
        if not teams:
            return
        conn.execute(
            insert_ignore(conn, TeamRow),
            [{"name": name, "source": source, "updated_at": now} for name in teams],
        )
        ids = dict(
            conn.execute(
                select(TeamRow.name, TeamRow.id).where(
                    TeamRow.source == source, TeamRow.name.in_(list(teams))
                )
            ).all()
        )
        for name, team_id in ids.items():
            conn.execute(
                update(TeamRow)
                .where(TeamRow.id == team_id)
                .values(updated_at=now, external_id=(external_ids or {}).get(name), removed_at=None)
            )
        # Someone forgotten is no one's member: their identity is not made again.
        keys = {key for members in teams.values() for key in members}
        identities = resolve_unforgotten(conn, keys, now)
        wanted = {
            (ids[name], identities[key])
            for name, members in teams.items()
            for key in members
            if key in identities
        }
        current = {
            (team, identity): spell
            for spell, team, identity in conn.execute(
                select(TeamMemberRow.id, TeamMemberRow.team_id, TeamMemberRow.identity_id).where(
                    TeamMemberRow.team_id.in_(list(ids.values())), TeamMemberRow.until.is_(None)
                )
            )
        }
        left = sorted(spell for pair, spell in current.items() if pair not in wanted)
        if left:
            _leave(conn, left, now)
        joined = sorted(wanted - set(current))
        if joined:
            conn.execute(
                insert_ignore(conn, TeamMemberRow),
                [
                    {
                        "team_id": team,
                        "identity_id": identity,
                        "since": None if first_teams else now,
                    }
                    for team, identity in joined
                ],
            )


def _leave(conn: Connection, spells: Any, now: datetime) -> None:
    """End the open `spells` (ids, or a select of them) at `now`."""
    conn.execute(
        update(TeamMemberRow)
        .where(TeamMemberRow.id.in_(spells), TeamMemberRow.until.is_(None))
        .values(until=now)
    )


def list_teams(db: Database) -> list[TeamInfo]:
    """Every team each source gives now, with its members now, by name then source."""
    stmt = (
        select(
            TeamRow.name,
            TeamRow.source,
            TeamRow.updated_at,
            func.count(TeamMemberRow.id),
            func.count(distinct(IdentityRow.person_id)),
        )
        .outerjoin(
            TeamMemberRow,
            and_(TeamMemberRow.team_id == TeamRow.id, TeamMemberRow.until.is_(None)),
        )
        .outerjoin(IdentityRow, IdentityRow.id == TeamMemberRow.identity_id)
        .where(TeamRow.removed_at.is_(None))
        .group_by(TeamRow.id, TeamRow.name, TeamRow.source, TeamRow.updated_at)
        .order_by(TeamRow.name, TeamRow.source)
    )
    with db.read() as conn:
        return [
            TeamInfo(name=row[0], source=row[1], updated_at=row[2], members=row[3], linked=row[4])
            for row in conn.execute(stmt)
        ]


def team_people(db: Database, moments: Sequence[datetime]) -> list[dict[str, frozenset[int]]]:
    """For each of `moments`, each team name's people then (the union over the sources that
    name it), linked ones only. One read, however many moments."""
    if not moments:
        return []
    stmt = (
        select(TeamRow.name, IdentityRow.person_id, TeamMemberRow.since, TeamMemberRow.until)
        .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
        .join(IdentityRow, IdentityRow.id == TeamMemberRow.identity_id)
        .where(
            IdentityRow.person_id.is_not(None),
            or_(TeamMemberRow.since.is_(None), TeamMemberRow.since <= max(moments)),
            or_(TeamMemberRow.until.is_(None), TeamMemberRow.until > min(moments)),
        )
    )
    people: list[dict[str, set[int]]] = [defaultdict(set) for _ in moments]
    with db.read() as conn:
        for name, person_id, since, until in conn.execute(stmt):
            if person_id is None:  # the query keeps linked ones only
                continue
            for i, moment in enumerate(moments):
                if (since is None or since <= moment) and (until is None or until > moment):
                    people[i][name].add(person_id)
    return [{name: frozenset(members) for name, members in at.items()} for at in people]


def teams_version(db: Database) -> tuple[int, str]:
    """Changes whenever teams are imported or refreshed: a cheap key for caches."""
    with db.read() as conn:
        count, latest = conn.execute(
            select(func.count(TeamRow.id), func.max(TeamRow.updated_at))
        ).one()
    return int(count or 0), latest.isoformat() if latest else ""

"""Teams and who is in them. Members are identities, so a member named by email or vendor
login counts as soon as that identity is linked to a Slack user."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, distinct, func, select, update

from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import IdentityRow, TeamMemberRow, TeamRow
from storage.people import IdentityKey, resolve_identities
from storage.privacy import forgotten_keys


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
    """Make `teams` everything `source` says: its other teams go, and each team's members
    become exactly those given. One transaction, so a view never sees half an import."""
    with db.write() as conn:
        conn.execute(
            delete(TeamRow).where(TeamRow.source == source, TeamRow.name.not_in(list(teams)))
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
                .values(updated_at=now, external_id=(external_ids or {}).get(name))
            )
        conn.execute(delete(TeamMemberRow).where(TeamMemberRow.team_id.in_(list(ids.values()))))
        # Someone forgotten is no one's member: their identity is not made again.
        keys = {key for members in teams.values() for key in members}
        identities = resolve_identities(conn, keys - forgotten_keys(conn, keys), now)
        rows = {
            (ids[name], identities[key])
            for name, members in teams.items()
            for key in members
            if key in identities
        }
        if rows:
            conn.execute(
                insert_ignore(conn, TeamMemberRow),
                [{"team_id": team, "identity_id": identity} for team, identity in sorted(rows)],
            )


def list_teams(db: Database) -> list[TeamInfo]:
    """Every team of every source, by name then source."""
    stmt = (
        select(
            TeamRow.name,
            TeamRow.source,
            TeamRow.updated_at,
            func.count(TeamMemberRow.id),
            func.count(distinct(IdentityRow.person_id)),
        )
        .outerjoin(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
        .outerjoin(IdentityRow, IdentityRow.id == TeamMemberRow.identity_id)
        .group_by(TeamRow.id, TeamRow.name, TeamRow.source, TeamRow.updated_at)
        .order_by(TeamRow.name, TeamRow.source)
    )
    with db.read() as conn:
        return [
            TeamInfo(name=row[0], source=row[1], updated_at=row[2], members=row[3], linked=row[4])
            for row in conn.execute(stmt)
        ]


def team_people(db: Database) -> dict[str, frozenset[int]]:
    """Each team name's people (the union over the sources that name it), linked ones only."""
    stmt = (
        select(TeamRow.name, IdentityRow.person_id)
        .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
        .join(IdentityRow, IdentityRow.id == TeamMemberRow.identity_id)
        .where(IdentityRow.person_id.is_not(None))
    )
    people: dict[str, set[int]] = defaultdict(set)
    with db.read() as conn:
        for name, person_id in conn.execute(stmt):
            if person_id is not None:  # the query keeps linked ones only
                people[name].add(person_id)
    return {name: frozenset(members) for name, members in people.items()}


def teams_version(db: Database) -> tuple[int, str]:
    """Changes whenever teams are imported or refreshed: a cheap key for caches."""
    with db.read() as conn:
        count, latest = conn.execute(
            select(func.count(TeamRow.id), func.max(TeamRow.updated_at))
        ).one()
    return int(count or 0), latest.isoformat() if latest else ""

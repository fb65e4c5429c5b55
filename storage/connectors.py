"""Connector state (last success, last error, last day fetched) and Copilot's team memberships."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from storage.db import Database
from storage.models import ConnectorStateRow, CopilotTeamRow
from storage.privacy import forgotten_keys
from storage.records import ConnectorState

MAX_ERROR_CHARS = 1000


def connector_states(db: Database) -> dict[str, ConnectorState]:
    """Every connector that has run, by name."""
    with db.read() as conn:
        rows = conn.execute(select(ConnectorStateRow.__table__)).all()
        return {
            row.name: ConnectorState(
                name=row.name,
                last_day=row.last_day,
                last_success_at=row.last_success_at,
                last_attempt_at=row.last_attempt_at,
                last_error=row.last_error,
                last_error_at=row.last_error_at,
                rows_last_sync=row.rows_last_sync,
            )
            for row in rows
        }


def _ensure(conn: Connection, name: str) -> None:
    exists = conn.execute(
        select(ConnectorStateRow.name).where(ConnectorStateRow.name == name)
    ).first()
    if exists is None:
        conn.execute(insert(ConnectorStateRow).values(name=name, rows_last_sync=0))


def record_day_done(db: Database, name: str, day: date, now: datetime) -> None:
    """A day was fetched and stored in full; `last_day` only moves forward, so a backfill of
    old days does not make the next scheduled pull start over from them."""
    with db.write() as conn:
        _ensure(conn, name)
        conn.execute(
            update(ConnectorStateRow)
            .where(ConnectorStateRow.name == name)
            .where((ConnectorStateRow.last_day.is_(None)) | (ConnectorStateRow.last_day < day))
            .values(last_day=day)
        )
        conn.execute(
            update(ConnectorStateRow)
            .where(ConnectorStateRow.name == name)
            .values(last_attempt_at=now)
        )


def record_success(db: Database, name: str, rows: int, now: datetime) -> None:
    with db.write() as conn:
        _ensure(conn, name)
        conn.execute(
            update(ConnectorStateRow)
            .where(ConnectorStateRow.name == name)
            .values(last_success_at=now, last_attempt_at=now, rows_last_sync=rows)
        )


def record_failure(db: Database, name: str, error: str, now: datetime) -> None:
    """Keep the error (already free of secrets) to show in `connectors list` and status."""
    with db.write() as conn:
        _ensure(conn, name)
        conn.execute(
            update(ConnectorStateRow)
            .where(ConnectorStateRow.name == name)
            .values(last_error=error[:MAX_ERROR_CHARS], last_error_at=now, last_attempt_at=now)
        )


def replace_copilot_teams(db: Database, day: date, members: Iterable[tuple[str, str]]) -> bool:
    """Make `members` ((team, login) pairs of Copilot's user-teams report for `day`) the
    current memberships, unless a newer day is already stored. Returns whether it did."""
    pairs = sorted(set(members))
    with db.write() as conn:
        newest = conn.execute(select(func.max(CopilotTeamRow.day))).scalar()
        if newest is not None and newest > day:
            return False
        # A forgotten person's login is dropped here, as their usage is at every door.
        gone = forgotten_keys(conn, [("copilot", login.lower()) for _, login in pairs])
        pairs = [(team, login) for team, login in pairs if ("copilot", login.lower()) not in gone]
        conn.execute(delete(CopilotTeamRow))
        if pairs:
            conn.execute(
                insert(CopilotTeamRow),
                [{"day": day, "team": team, "login": login} for team, login in pairs],
            )
    return True


def copilot_teams(db: Database) -> dict[str, list[str]]:
    """Copilot's current team memberships: team name to the GitHub logins in it, sorted.
    For the org view, a login is the identity `copilot:<login>` that `people link` takes."""
    with db.read() as conn:
        rows = conn.execute(
            select(CopilotTeamRow.team, CopilotTeamRow.login).order_by(
                CopilotTeamRow.team, CopilotTeamRow.login
            )
        ).all()
    teams: dict[str, list[str]] = {}
    for team, login in rows:
        teams.setdefault(team, []).append(login)
    return teams

"""Team names, team files and when a week's members are taken: what a team may be called,
how a `team,member` CSV reads, and which moment's members a week is summed over. Pure: the
caller resolves members and stores the result."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from jobs.org import OTHER
from jobs.weeks import Week
from storage.bounds import MAX_TEAM_NAME_CHARS

MAX_TEAMS_FILE_ROWS = 1_000_000
# Where teams come from (`teams list` shows the key): an import, Slack user groups, and
# Copilot's user-teams report, which the connectors add through `storage.teams.replace_teams`.
SOURCES = ("csv", "slack", "copilot")


def members_moment(week: Week, tz: ZoneInfo) -> datetime:
    """When a week's members of a team are taken: as the week starts (Monday 00:00 in `tz`).
    A change of members shows from the next week on, and a week that is over never changes
    with later ones: otherwise the same week reported before and after one person left
    would subtract to that person's week."""
    return week.bounds_utc(tz)[0]


def clean_team_name(raw: str) -> str:
    """A team name as stored; raises ValueError for one that cannot be a team's name."""
    name = " ".join(raw.split())  # newlines and runs of spaces become one space
    if not name:
        raise ValueError("the team name is empty")
    if len(name) > MAX_TEAM_NAME_CHARS:
        raise ValueError(f"the team name is longer than {MAX_TEAM_NAME_CHARS} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise ValueError("the team name has control or invisible formatting characters")
    if name.casefold() == OTHER:
        raise ValueError(f"{OTHER!r} is where small teams fold; name the team otherwise")
    return name


@dataclass
class TeamsFile:
    """A parsed teams file: members per team in file order, and the lines that failed."""

    teams: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    errors: list[tuple[int, str]] = field(default_factory=list)


def read_teams_file(handle: TextIO, parse_member: Callable[[str], tuple[str, str]]) -> TeamsFile:
    """Read `team,member` rows; `parse_member` turns a member into an identity key or
    raises ValueError. Every bad line is reported; none stops the others being read."""
    found = TeamsFile()
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["team", "member"]:
        found.errors.append((1, "the first line must be the header: team,member"))
        return found
    for line, row in enumerate(reader, start=2):
        if line > MAX_TEAMS_FILE_ROWS:
            found.errors.append((line, f"more than {MAX_TEAMS_FILE_ROWS:,} rows"))
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            found.errors.append((line, f"expected 2 fields, got {len(row)}"))
            continue
        try:
            team = clean_team_name(row[0])
            member = parse_member(row[1].strip())
        except ValueError as exc:
            found.errors.append((line, str(exc)))
            continue
        members = found.teams.setdefault(team, [])
        if member not in members:
            members.append(member)
    return found

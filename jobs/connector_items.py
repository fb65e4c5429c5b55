"""What a connector hands the sync job: fetched days and their records, team memberships,
and the error it fails with. Apart from `jobs.connectors` so that a connector's fetching
process (`bot.connectors.copilot_child`) imports these and not the database layer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from storage.records import BadRow, ReportDay
from storage.report_rows import PreparedDays


class ConnectorError(Exception):
    """A pull failed in a way an operator can act on; the message names the cause and is
    safe to show and store (it never holds a key or a signed link)."""


@dataclass
class Batch:
    """Days a connector fetched in full, and their records. The writer clears what the
    source said of these days before, then stores `items`, or with `prepared` the days'
    rows as the connector built them (`items` then holds only the rows it could not read).
    A record naming a person, day and client named before replaces the earlier one, as
    `aiusage import` keeps it; with `add_up`, the two add up (a vendor whose report gives a
    person several records a day, as Claude Code's gives one per terminal)."""

    days: tuple[date, ...]
    items: Iterable[ReportDay | BadRow]
    prepared: PreparedDays | None = None
    add_up: bool = False


@dataclass(frozen=True)
class TeamMembers:
    """A vendor's team memberships on `day`, as (team, login) pairs (Copilot's user-teams
    report); stored as the current memberships unless a newer day already is."""

    day: date
    members: tuple[tuple[str, str], ...]

"""GitHub Copilot's user-teams report (`user-teams-1-day`, NDJSON): one line per user and team
on a day, e.g. `{"user_login": "octocat", "day": "2026-11-16", "team_id": 7, "slug": "web"}`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

import orjson

from bot.intake.vendor_report import RowError, calendar_day, text
from storage.records import BadRow


def parse(lines: Iterable[str]) -> Iterator[tuple[date, str, str] | BadRow]:
    """(day, team slug, lower-cased login) per membership; a bad line is named, not fatal."""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            record = orjson.loads(stripped)
            if not isinstance(record, dict):
                raise RowError("a record must be a JSON object")
            team = record.get("slug") or record.get("team_slug") or record.get("team_name")
            if not isinstance(team, str) or not team.strip():
                raise RowError("slug is missing")
            yield (
                calendar_day(record.get("day"), "day"),
                team.strip(),
                text(record, "user_login").lower(),
            )
        except orjson.JSONDecodeError as exc:
            yield BadRow(number, f"not a JSON object: {exc}")
        except RowError as exc:
            yield BadRow(number, str(exc))

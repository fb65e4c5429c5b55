"""GitHub Copilot's user-teams report (`user-teams-1-day`, NDJSON): one line per user and team
on a day, e.g. `{"user_login": "octocat", "day": "2026-11-16", "team_id": 7, "slug": "web"}`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

import orjson

from bot.intake.vendor_report import RowError, calendar_day, not_utf8, text
from storage import bounds
from storage.records import BadRow

# copilot_team_members.login holds this many characters (GitHub's logins hold at most 39).
MAX_LOGIN_CHARS = 255


def parse(lines: Iterable[str]) -> Iterator[tuple[date, str, str] | BadRow]:
    """(day, team slug, lower-cased login) per membership; a bad line is named, not fatal,
    and so is a team or login that no column holds (the bounds every door keeps)."""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            if (why := not_utf8(stripped)) is not None:
                raise RowError(why)
            record = orjson.loads(stripped)
            if not isinstance(record, dict):
                raise RowError("a record must be a JSON object")
            team = record.get("slug") or record.get("team_slug") or record.get("team_name")
            if not isinstance(team, str) or not team.strip():
                raise RowError("slug is missing")
            yield (
                calendar_day(record.get("day"), "day"),
                _team(team.strip()),
                _login(text(record, "user_login").lower()),
            )
        except orjson.JSONDecodeError as exc:
            yield BadRow(number, f"not a JSON object: {exc}")
        except RowError as exc:
            yield BadRow(number, str(exc))


def _team(slug: str) -> str:
    if len(slug) > bounds.MAX_TEAM_NAME_CHARS or not slug.isprintable():
        raise RowError(f"slug must be 1 to {bounds.MAX_TEAM_NAME_CHARS} printable characters")
    return slug


def _login(login: str) -> str:
    try:
        bounds.identity("copilot", login)
    except bounds.OutOfBounds as exc:
        raise RowError(str(exc)) from None
    if len(login) > MAX_LOGIN_CHARS:
        raise RowError(f"user_login is longer than {MAX_LOGIN_CHARS} characters")
    return login

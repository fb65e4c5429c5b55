"""The bounds every door keeps (the HTTP API, OTLP, vendor imports): how large a figure, how
early or late a time, and what a valid identity is. One set of pure rules, so a value one door
refuses is refused by all, and stored sums stay far inside a 64-bit integer.

The arithmetic: one item carries at most MAX_COUNT of a figure; one rollup row (a person's
tool, kind and source on one day) saturates at DAY_CAP; ten years of capped days is
3,653 x 10^15 < 2^63. Reads sum without overflow anyway (see `storage.usage`), and saturate at
INT64_MAX, so no stored data can make a read fail."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.records import BadRow, ReportDay, UserRef

INT64_MAX = 2**63 - 1
MAX_COUNT = 10**12  # requests, tokens, suggestions, lines: per event, point or report row
MAX_COST_USD = 1_000_000.0  # per event, point or report row
DAY_CAP = 10**15  # a rollup row's figure saturates here
COST_DAY_CAP = 10.0**12
# Stands for a figure nobody reported in rows built for `storage.bulk.upsert_daily_tuples`
# with `absent=ABSENT`: no door lets a negative figure in, so it is never a real one.
ABSENT = -1
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # before any AI coding tool reported anything
FUTURE_LEEWAY = timedelta(minutes=5)  # clocks drift; more than this ahead is refused
MAX_EMAIL_CHARS = 320  # RFC 5321: 64 for the local part, @, 255 for the domain
MAX_IDENTITY_CHARS = 320  # any other identity (a vendor login, an id)
MAX_DISPLAY_NAME_CHARS = 255  # a person's name as Slack shows it (people.display_name)
MAX_ZONE_CHARS = 64  # an IANA zone name (people.tz); the longest real one is 32
MAX_TEAM_NAME_CHARS = 255  # a team's name (teams.name, copilot_team_members.team)
# A report's client (Kiro's Client_Type) is kept in its origin, usage_daily.origin of 128
# characters: "import:" + a source (at most 11) + "@" + an integration (at most 64) + ":"
# leaves 44; Kiro's own clients (KIRO_IDE, KIRO_CLI, PLUGIN) are far shorter.
MAX_CLIENT_CHARS = 40

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@" + _LABEL + r"(?:\." + _LABEL + r")*",
)
# A Slack user ID, the one rule for every place that takes one. Anchored, so that its
# `.pattern` means the whole value in pydantic's `Field(pattern=...)`, which searches; in
# Python use `fullmatch`, as `$` lets `match` take a trailing newline.
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
# A Slack file ID as Slack hands them out (F and capitals or digits), held to the 64
# characters of the columns that keep one (people.home_chart_file, owed_file_deletes.file_id).
MAX_SLACK_FILE_ID_CHARS = 64
SLACK_FILE_ID = re.compile(rf"F[A-Z0-9]{{2,{MAX_SLACK_FILE_ID_CHARS - 1}}}")
# A public (C) or private (G) channel, or a direct message (D): where posts may go.
SLACK_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,30}")


class OutOfBounds(ValueError):
    """A value no door accepts; the message names the field and the bound."""


def count(name: str, value: int) -> int:
    """A figure of one item: a whole number from 0 to MAX_COUNT."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise OutOfBounds(f"{name} must be a whole number")
    if not 0 <= value <= MAX_COUNT:
        raise OutOfBounds(f"{name} must be from 0 to {MAX_COUNT:.0e}, not {value}")
    return value


def cost(name: str, value: float) -> float:
    """A cost in US dollars of one item: finite, from 0 to MAX_COST_USD."""
    if not math.isfinite(value) or not 0 <= value <= MAX_COST_USD:
        raise OutOfBounds(f"{name} must be from 0 to {MAX_COST_USD:,.0f}, not {value!r}")
    return float(value)


def figure(name: str, value: float, *, is_cost: bool) -> float:
    """A figure that may arrive as a float (OTLP's as_double): a cost, or a count's value."""
    if is_cost:
        return cost(name, value)
    if not math.isfinite(value) or not 0 <= value <= MAX_COUNT:
        raise OutOfBounds(f"{name} must be from 0 to {MAX_COUNT:.0e}, not {value!r}")
    return value


def moment(name: str, value: datetime, now: datetime) -> datetime:
    """An aware time from EARLIEST to FUTURE_LEEWAY past `now`, as UTC."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise OutOfBounds(f"{name} is out of range") from None
    if utc < EARLIEST:
        raise OutOfBounds(f"{name} is before {EARLIEST:%Y-%m-%d}")
    if utc > now + FUTURE_LEEWAY:
        raise OutOfBounds(f"{name} is more than 5 minutes in the future")
    return utc


def unix_nanos(name: str, nanos: int, now: datetime) -> datetime:
    """An OTLP time (nanoseconds since 1970) within the bounds of `moment`."""
    earliest = int(EARLIEST.timestamp()) * 10**9
    latest = int((now + FUTURE_LEEWAY).timestamp()) * 10**9
    if nanos < earliest:
        raise OutOfBounds(f"{name} is missing or before {EARLIEST:%Y-%m-%d}")
    if nanos > latest:
        raise OutOfBounds(f"{name} is more than 5 minutes in the future")
    return datetime.fromtimestamp(nanos / 1e9, UTC)


def day(name: str, value: date, today: date) -> date:
    """A vendor's calendar day: from EARLIEST to a day past `today` (zones run ahead)."""
    if not _EARLIEST_DAY <= value <= today + _ONE_DAY:
        raise OutOfBounds(f"{name} {value.isoformat()} is before 2000 or in the future")
    return value


# Kept at hand: a connector's sync checks the day of every record it stores.
_EARLIEST_DAY = EARLIEST.date()
_ONE_DAY = timedelta(days=1)


def email(value: str) -> str:
    """A valid email address, lower-cased: `local@domain`, at most 320 characters, no spaces
    or control characters, the domain made of host-name labels."""
    if len(value) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise OutOfBounds(f"email is not a valid address: {shown!r}")
    return value.lower()


def text(name: str, value: str) -> str:
    """A free-text value bound for a text column (a model's name): without the NUL character,
    which PostgreSQL's text cannot hold, so what one database stores the other does too."""
    if "\x00" in value:
        raise OutOfBounds(f"{name} must not contain the NUL character (\\u0000)")
    return value


def client(value: str) -> str:
    """A report's client: 1 to MAX_CLIENT_CHARS printable characters."""
    if not 0 < len(value) <= MAX_CLIENT_CHARS or not value.isprintable():
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise OutOfBounds(
            f"client must be 1 to {MAX_CLIENT_CHARS} printable characters, not {shown!r}"
        )
    return value


def slack_user_id(value: str) -> str:
    if not SLACK_USER_ID.fullmatch(value):
        raise OutOfBounds(f"slack_user_id is not a Slack user ID: {value[:40]!r}")
    return value


def slack_file_id(value: object) -> str | None:
    """A file ID Slack handed us, fit to store, send back and show: None when it is not one
    (not text, too long, or anything but F and capitals or digits)."""
    if isinstance(value, str) and SLACK_FILE_ID.fullmatch(value):
        return value
    return None


def identity(kind: str, value: str) -> str:
    """A vendor's name for a person (login, id): 1 to 320 characters, printable, no spaces
    at either end."""
    if not value or len(value) > MAX_IDENTITY_CHARS:
        raise OutOfBounds(f"{kind} identity must be 1 to {MAX_IDENTITY_CHARS} characters")
    if value != value.strip():
        raise OutOfBounds(f"{kind} identity has spaces at its ends: {value[:40]!r}")
    if not value.isprintable():
        raise OutOfBounds(f"{kind} identity holds control characters")
    return value


def display_name(value: object) -> str | None:
    """A name Slack gives, fit to store: text without NULs (PostgreSQL refuses them) and at
    most MAX_DISPLAY_NAME_CHARS; None when there is none."""
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "")[:MAX_DISPLAY_NAME_CHARS] or None


def zone_name(value: object) -> str | None:
    """An IANA zone name Slack gives, or None (unknown, so the configured zone is used) when
    it is not one: not text, too long, or no zone this machine knows."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ZONE_CHARS or "\x00" in value:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value


def user(ref: UserRef) -> UserRef:
    """The person an item names, checked by the rule for its kind of identity."""
    if ref.slack_user_id is not None:
        slack_user_id(ref.slack_user_id)
    elif ref.email is not None:
        email(ref.email)
    elif ref.vendor is not None:
        identity(ref.vendor[0], ref.vendor[1])
    else:
        raise OutOfBounds("no person is named")
    return ref


def within_bounds(item: ReportDay, today: date) -> ReportDay | BadRow:
    """A vendor report's row, or why it breaks the bounds every door keeps: who it names,
    which day, and its client. Its figures were checked as they were read. `aiusage
    import` and the connectors' sync both keep it."""
    try:
        user(item.user)
        day("day", item.day, today)
        if item.client is not None:
            client(item.client)
    except OutOfBounds as exc:
        return BadRow(item.line, str(exc))
    return item


def saturate(value: int) -> int:
    """A sum read back, held within a 64-bit integer."""
    return min(value, INT64_MAX)

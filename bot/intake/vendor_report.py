"""What every vendor report parser shares: reading counts and days strictly, and summing
figures per kind of work. A value that breaks a rule raises RowError with a readable reason."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from storage import bounds
from storage.records import KindFigures

# How every report's bytes are decoded (imports and connectors): a byte that is not UTF-8
# becomes a lone surrogate instead of stopping the read, so the row holding it is rejected
# by its line (`not_utf8`) and the rows around it are read as ever.
DECODE_ERRORS = "surrogateescape"


class RowError(ValueError):
    """This row cannot be imported; the message says which field and why."""


class BadReport(Exception):
    """The file as a whole is not this vendor's report (wrong format or header)."""


class DocumentTooLarge(BadReport):
    """A report that is one JSON document, parsed whole, is longer than `limit` bytes: held
    and parsed, it would take several times that in memory."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"a JSON document longer than {limit} bytes")
        self.limit = limit


def not_utf8(text: str) -> str | None:
    """Why `text`, decoded with DECODE_ERRORS, was not UTF-8 in the file; None if it was."""
    if text.isascii():  # nearly every line: checked at C speed, nothing encoded
        return None
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        byte = f" (byte 0x{code - 0xDC00:02x})" if 0xDC80 <= code <= 0xDCFF else ""
        return f"is not UTF-8 text{byte}"
    return None


def unique_columns(header: Iterable[str]) -> list[str]:
    """A CSV header's names, stripped; a name given twice (in any case) refuses the file,
    as a row would otherwise silently take one of its two values."""
    names = [name.strip() for name in header]
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise BadReport(f"the header names the column {name!r} twice")
        seen.add(name.casefold())
    return names


def suggestions(shown: int | None, accepted: int | None) -> tuple[int | None, int | None]:
    """(shown, accepted) as stored from a vendor's report: shown raised to accepted where
    accepted is more (or shown is left out). Vendors count each accept action, which can
    outnumber what they counted as shown (Copilot's chat, Cursor's applies, Kiro's
    acceptance events), and the rest of the row is good: so it is kept, not rejected as
    the ingestion API rejects an event that says so, and stays within accepted <= shown."""
    if accepted and (shown is None or accepted > shown):
        return accepted, accepted
    return shown, accepted


def count(row: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    """A non-negative whole number; None when the report leaves the field out."""
    value = row.get(name)
    # The usual case first, as every field of every row comes here: a JSON whole number in
    # bounds (`type() is int` leaves bools out). Anything else takes the careful path below.
    if type(value) is int and 0 <= value <= bounds.MAX_COUNT:
        return value
    if value is None or value == "":
        if required:
            raise RowError(f"{name} is missing")
        return None
    if isinstance(value, bool):
        raise RowError(f"{name} must be a whole number, not {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text) if "." in text or "e" in text.lower() else int(text)
        except ValueError:
            raise RowError(f"{name} must be a whole number, not {value!r}") from None
    elif isinstance(value, int | float):
        number = value
    else:
        raise RowError(f"{name} must be a whole number, not {value!r}")
    if isinstance(number, float):
        if not math.isfinite(number) or not number.is_integer():
            raise RowError(f"{name} must be a whole number, not {value!r}")
        number = int(number)
    if number < 0:
        raise RowError(f"{name} must not be negative ({number})")
    try:
        return bounds.count(name, number)
    except bounds.OutOfBounds as exc:
        raise RowError(str(exc)) from None


def amount(row: Mapping[str, Any], name: str) -> float | None:
    """A non-negative finite number; None when left out."""
    value = row.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RowError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise RowError(f"{name} must be a non-negative number, not {value!r}")
    try:
        return bounds.cost(name, number)
    except bounds.OutOfBounds as exc:
        raise RowError(str(exc)) from None


def text(row: Mapping[str, Any], name: str) -> str:
    """A required non-empty string."""
    value = row.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"{name} is missing")
    return value.strip()


def calendar_day(value: Any, name: str = "date") -> date:
    """A vendor's calendar day: `YYYY-MM-DD` (ISO, optionally with a time), `MM-DD-YYYY` (as
    Kiro's per-user report writes it), or epoch milliseconds at UTC midnight (Cursor)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _epoch_day(value, name)
    if not isinstance(value, str) or not value.strip():
        raise RowError(f"{name} is missing")
    raw = value.strip()
    for parse in (
        lambda s: date.fromisoformat(s[:10]),
        lambda s: datetime.strptime(s, "%m-%d-%Y").date(),  # noqa: DTZ007 - a bare date
        lambda s: datetime.strptime(s, "%m/%d/%Y").date(),  # noqa: DTZ007
    ):
        try:
            return parse(raw)
        except ValueError:
            continue
    if raw.isdigit() and len(raw) <= 20:
        return _epoch_day(int(raw), name)
    raise RowError(f"{name} is not a date: {value[:40]!r}")


def _epoch_day(millis: float, name: str) -> date:
    try:
        return datetime.fromtimestamp(millis / 1000, UTC).date()
    except (OverflowError, OSError, ValueError):
        raise RowError(f"{name} is not a date: {millis!r}") from None


def merge(parts: Iterable[KindFigures]) -> tuple[KindFigures, ...]:
    """Sum figures of the same kind, keeping 'not reported' apart from zero."""
    by_kind: dict[str, KindFigures] = {}
    for part in parts:
        seen = by_kind.get(part.kind)
        if seen is None:
            by_kind[part.kind] = part
            continue
        by_kind[part.kind] = seen + part
    return tuple(by_kind[kind] for kind in sorted(by_kind))


def nonzero(figures: KindFigures) -> bool:
    """Whether a part says anything; all-zero parts are left out of the rollup."""
    return figures.says_anything()

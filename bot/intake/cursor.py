"""Cursor's team daily-usage data, as `POST /teams/daily-usage-data` of its Admin API
returns it: `{"data": [{"date": <epoch ms>, "email": ..., "totalTabsShown": ...}], ...}`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from bot.intake.json_text import LONG_INT_DECODER
from bot.intake.vendor_report import (
    BadReport,
    RowError,
    calendar_day,
    count,
    merge,
    nonzero,
    not_utf8,
    suggestions,
    text,
)
from storage import bounds
from storage.records import BadRow, KindFigures, ReportDay, UserRef

TOOL = "cursor"
_DATA_KEY = re.compile(r'"data"\s*:\s*\[')
_decoder = json.JSONDecoder()


def parse(body: str) -> Iterator[ReportDay | BadRow]:
    """Each item of `data` (or of a bare JSON array), with the line it starts on, decoded
    one at a time so a bad item is named and the rest still imported; so is an item holding
    a byte that was not UTF-8 (the body decoded with DECODE_ERRORS)."""
    match = _DATA_KEY.search(body)
    if match:
        position = match.end()
    else:
        start = body.lstrip()
        if not start.startswith("["):
            raise BadReport('not Cursor daily-usage data: expected {"data": [...]}')
        position = len(body) - len(start) + 1
    line = body.count("\n", 0, position) + 1
    while True:
        skipped = _skip(body, position)
        line += body.count("\n", position, skipped)
        position = skipped
        if position >= len(body):
            raise BadReport("the data array is not closed")
        if body[position] == "]":
            return
        try:
            item, end = _decoder.raw_decode(body, position)
        except json.JSONDecodeError as exc:
            raise BadReport(f"line {line}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise BadReport(f"line {line}: JSON nested too deeply") from None
        except ValueError:
            # Digits past what int() takes; read again, they are an infinity this item's
            # checks refuse by name.
            item, end = LONG_INT_DECODER.raw_decode(body, position)
        try:
            if (why := not_utf8(body[position:end])) is not None:
                raise RowError(why)
            if not isinstance(item, dict):
                raise RowError("an item of data must be an object")
            yield to_report_day(line, item)
        except RowError as exc:
            yield BadRow(line, str(exc))
        line += body.count("\n", position, end)
        position = end


def _skip(body: str, position: int) -> int:
    while position < len(body) and body[position] in " \t\r\n,":
        position += 1
    return position


def to_report_day(line: int, item: Mapping[str, Any]) -> ReportDay:
    """Tab completions as inline suggestions, Composer/agent/Cmd-K as agent work with its
    applies and accepted lines, chat as chat. A day marked inactive clears that day."""
    try:
        email = bounds.email(text(item, "email"))
    except bounds.OutOfBounds as exc:
        raise RowError(str(exc)) from None
    day = calendar_day(item.get("date"), "date")
    numbers = {
        name: count(item, name) or 0
        for name in (
            "totalTabsShown",
            "totalTabsAccepted",
            "composerRequests",
            "agentRequests",
            "cmdkUsages",
            "chatRequests",
            "totalApplies",
            "totalAccepts",
            "acceptedLinesAdded",
        )
    }
    parts: list[KindFigures] = []
    if item.get("isActive", True) is not False:
        tabs_shown, tabs_accepted = suggestions(
            numbers["totalTabsShown"], numbers["totalTabsAccepted"]
        )
        applies, accepts = suggestions(numbers["totalApplies"], numbers["totalAccepts"])
        parts = [
            KindFigures(
                kind="inline_suggestion",
                suggestions_shown=tabs_shown,
                suggestions_accepted=tabs_accepted,
            ),
            KindFigures(
                kind="agent",
                requests=numbers["composerRequests"]
                + numbers["agentRequests"]
                + numbers["cmdkUsages"],
                suggestions_shown=applies,
                suggestions_accepted=accepts,
                lines_accepted=numbers["acceptedLinesAdded"],
            ),
            KindFigures(kind="chat", requests=numbers["chatRequests"]),
        ]
    return ReportDay(
        line=line,
        user=UserRef(email=email),
        day=day,
        tool=TOOL,
        figures=merge(part for part in parts if nonzero(part)),
    )

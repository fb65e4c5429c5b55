"""Kiro (Amazon Q Developer) user-activity CSV reports, told apart by their header:
- the per-client report (`user_report`): Date as YYYY-MM-DD, UserId, Client_Type, credits,
  Total_Messages and one `<model>_messages` column per model used that day;
- the per-user activity report (`by_user_analytic`): UserId, Date as MM-DD-YYYY, and
  Chat_, Inline_, InlineChat_ and Dev_ metrics."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping

from bot.intake.vendor_report import (
    BadReport,
    RowError,
    amount,
    calendar_day,
    count,
    merge,
    nonzero,
    not_utf8,
    suggestions,
    text,
    unique_columns,
)
from storage.records import BadRow, KindFigures, ReportDay, UserRef

TOOL = "kiro"
_CLIENT_COLUMNS = {"Date", "UserId", "Client_Type", "Total_Messages"}
_ACTIVITY_COLUMNS = {"UserId", "Date"}


def parse(lines: Iterable[str]) -> Iterator[ReportDay | BadRow]:
    """Rows of either report, streamed; a row's line is where it ends in the file. Lines
    decoded with DECODE_ERRORS: a row holding a byte that was not UTF-8 is rejected."""
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    if (why := not_utf8("".join(header))) is not None:
        raise BadReport(f"line 1 (the header) {why}")
    columns = {name.strip() for name in header}
    if columns >= _CLIENT_COLUMNS:
        to_day = _client_day
        # dynamic per-model columns; Total_Messages is the sum, not a model
        models = [
            n for n in header if n.lower().endswith("_messages") and n.lower() != "total_messages"
        ]
    elif columns >= _ACTIVITY_COLUMNS:
        to_day = _activity_day
        models = []
    else:
        raise BadReport(
            "not a Kiro user-activity report: the header needs UserId and Date "
            "(and Client_Type and Total_Messages for the per-client report)"
        )
    unique_columns(header)  # refuses a name given twice
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field past the csv module's limit: this row only
            yield BadRow(reader.line_num, f"is not readable CSV: {exc}")
            continue
        line = reader.line_num
        if None in row or any(value is None for value in row.values()):
            yield BadRow(line, f"has {len(header)} columns in the header but not in this row")
            continue
        if (why := not_utf8("".join(row.values()))) is not None:
            yield BadRow(line, why)
            continue
        stripped = {(key or "").strip(): value for key, value in row.items()}
        try:
            for model in models:
                count(stripped, model.strip())  # checked, though the rollup keeps no model
            yield to_day(line, stripped)
        except RowError as exc:
            yield BadRow(line, str(exc))


def _user(row: Mapping[str, str]) -> UserRef:
    """By the report's email when it has one (an optional column), else by Kiro's UserId."""
    email = (row.get("Email") or row.get("email") or "").strip().lower()
    if email:
        if "@" not in email:
            raise RowError(f"Email is not an address: {email!r}")
        return UserRef(email=email)
    return UserRef(vendor=("kiro", text(row, "UserId")))


def _client_day(line: int, row: Mapping[str, str]) -> ReportDay:
    """Messages as requests, keyed by the client; credits are plan units, not dollars, so
    they are checked but not turned into a cost."""
    amount(row, "Credits_Used")
    amount(row, "Overage_Credits_Used")
    client = text(row, "Client_Type").lower()
    part = KindFigures(kind="agent", requests=count(row, "Total_Messages", required=True) or 0)
    return ReportDay(
        line=line,
        user=_user(row),
        day=calendar_day(row.get("Date"), "Date"),
        tool=TOOL,
        figures=merge([part] if nonzero(part) else []),
        client=client,
    )


def _activity_day(line: int, row: Mapping[str, str]) -> ReportDay:
    """Suggestions, acceptances and accepted lines per kind of work. Messages are left to
    the per-client report, which counts them for every client, so they are not added twice."""
    parts = [
        _suggested(row, "inline_suggestion", "Inline_SuggestionsCount", "Inline_AcceptanceCount",
                   "Inline_AICodeLines"),
        KindFigures(kind="chat", lines_accepted=count(row, "Chat_AICodeLines")),
        _suggested(row, "chat", "InlineChat_TotalEventCount", "InlineChat_AcceptanceEventCount",
                   "InlineChat_AcceptedLineAdditions"),
        _suggested(row, "agent", "Dev_GenerationEventCount", "Dev_AcceptanceEventCount",
                   "Dev_AcceptedLines"),
    ]  # fmt: skip
    return ReportDay(
        line=line,
        user=_user(row),
        day=calendar_day(row.get("Date"), "Date"),
        tool=TOOL,
        figures=merge(part for part in parts if nonzero(part)),
    )


def _suggested(
    row: Mapping[str, str], kind: str, shown: str, accepted: str, lines: str
) -> KindFigures:
    """A kind's suggestions shown and accepted (see `suggestions`) and its accepted lines."""
    figures = suggestions(count(row, shown), count(row, accepted))
    return KindFigures(
        kind=kind,
        suggestions_shown=figures[0],
        suggestions_accepted=figures[1],
        lines_accepted=count(row, lines),
    )

"""GitHub Copilot usage-metrics user reports (the 1-day and 28-day per-user NDJSON files):
one record per user and day, broken down by feature and, for the CLI, with tokens."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from itertools import chain
from typing import Any

import orjson

from bot.intake import json_text
from bot.intake.vendor_report import (
    BadReport,
    DocumentTooLarge,
    RowError,
    calendar_day,
    count,
    merge,
    nonzero,
    not_utf8,
    suggestions,
    text,
)
from storage.bounds import MAX_COUNT
from storage.figures import plus
from storage.records import BadRow, KindFigures, ReportDay, UserRef

TOOL = "copilot"
# Chat-panel modes in which Copilot edits files itself count as agent work.
AGENT_FEATURES = {
    "agent_edit",
    "chat_panel_agent_mode",
    "chat_panel_edit_mode",
    "chat_panel_custom_mode",
    "chat_panel_plan_mode",
}


def parse(
    lines: Iterable[str], *, max_document_bytes: int | None = None
) -> Iterator[ReportDay | BadRow]:
    """Records from an NDJSON report, one per line; blank lines are skipped. A file that is
    one JSON array (as the API's example shows) is read too, each item named by its index,
    and so is a document with a `day_totals` list (as GitHub's own metrics tooling writes it),
    on one line or pretty-printed; such a document is parsed whole, so past
    `max_document_bytes` it raises DocumentTooLarge. Lines decoded with DECODE_ERRORS: one
    holding a byte that was not UTF-8 is rejected (in a document, refuses it)."""
    stream = iter(enumerate(lines, start=1))
    first = True
    for number, line in stream:
        stripped = line.strip()
        if not stripped:
            continue
        was_first, first = first, False
        if was_first and stripped.startswith("["):
            rest = _whole(number, stripped, stream, max_document_bytes)
            yield from _parse_array(rest)
            return
        if (why := not_utf8(stripped)) is not None:
            yield BadRow(number, why)
            continue
        try:
            record = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            if was_first and stripped.startswith("{"):
                rest = _whole(number, stripped, stream, max_document_bytes)
                yield from _parse_document(rest)
                return
            yield BadRow(number, f"not a JSON object: {exc}")
            continue
        if isinstance(record, dict) and "day_totals" in record:
            yield from _day_totals(record, number)
            continue
        yield _row(number, record)


def _whole(start: int, first: str, rest: Iterable[tuple[int, str]], limit: int | None) -> str:
    """The document that starts with `first` (line `start`), refused as soon as it is past
    `limit` bytes or holds a line that was not UTF-8 (parsed whole, no item is its own)."""
    parts, held = [], 0
    for number, line in chain([(start, first)], rest):
        if (why := not_utf8(line)) is not None:
            raise BadReport(f"line {number} {why}")
        held += len(line) if line.isascii() else len(line.encode())
        if limit is not None and held > limit:
            raise DocumentTooLarge(limit)
        parts.append(line)
    return "".join(parts)


def _parse_array(body: str) -> Iterator[ReportDay | BadRow]:
    try:
        records = json_text.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReport(f"the file starts a JSON array but is not valid JSON: {exc}") from None
    for index, record in enumerate(records, start=1):
        yield _row(index, record)


def _parse_document(body: str) -> Iterator[ReportDay | BadRow]:
    try:
        document = json_text.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReport(f"the file starts a JSON object but is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or "day_totals" not in document:
        raise BadReport("a single JSON document must hold a day_totals list")
    yield from _day_totals(document, None)


def _day_totals(document: dict[str, Any], line: int | None) -> Iterator[ReportDay | BadRow]:
    """Each day of a `day_totals` list, as a per-user record; a day without its own
    `user_login` takes the document's. Named by its line, or by its index in the list."""
    days = document["day_totals"]
    if not isinstance(days, list):
        yield BadRow(line or 1, "day_totals must be a list")
        return
    for index, item in enumerate(days, start=1):
        if isinstance(item, dict) and "user_login" not in item and "user_login" in document:
            item = {**item, "user_login": document["user_login"]}
        yield _row(line or index, item)


def _row(number: int, record: Any) -> ReportDay | BadRow:
    try:
        if not isinstance(record, dict):
            raise RowError("a record must be a JSON object")
        return _plain_report_day(number, record) or to_report_day(number, record)
    except RowError as exc:
        return BadRow(number, str(exc))


def to_report_day(number: int, record: Mapping[str, Any]) -> ReportDay:
    """One user's day: completions as inline suggestions, chat and agent modes by feature,
    and the CLI's prompts and tokens as agent work."""
    login = text(record, "user_login").lower()  # GitHub logins are case-insensitive
    day = calendar_day(record.get("day"), "day")
    parts: list[KindFigures] = []
    features = record.get("totals_by_feature")
    if features is not None and not isinstance(features, list):
        raise RowError("totals_by_feature must be a list")
    if features:
        for feature in features:
            if not isinstance(feature, dict):
                raise RowError("totals_by_feature holds objects")
            parts.append(_feature(feature))
    else:
        parts.append(_figures("other", record))
    cli = record.get("totals_by_cli")
    if cli is not None:
        if not isinstance(cli, dict):
            raise RowError("totals_by_cli must be an object")
        tokens = cli.get("token_usage") or {}
        if not isinstance(tokens, dict):
            raise RowError("totals_by_cli.token_usage must be an object")
        parts.append(
            KindFigures(
                kind="agent",
                requests=count(cli, "prompt_count") or 0,
                input_tokens=count(tokens, "prompt_tokens_sum") or 0,
                output_tokens=count(tokens, "output_tokens_sum") or 0,
            )
        )
    return ReportDay(
        line=number,
        user=UserRef(vendor=("copilot", login)),
        day=day,
        tool=TOOL,
        figures=merge(part for part in parts if nonzero(part)),
    )


def _feature(feature: Mapping[str, Any]) -> KindFigures:
    name = text(feature, "feature")
    if name == "code_completion":
        shown, accepted = _suggestions(feature)
        return KindFigures(
            kind="inline_suggestion",
            suggestions_shown=shown,
            suggestions_accepted=accepted,
            lines_accepted=count(feature, "loc_added_sum"),
        )
    return _figures("agent" if name in AGENT_FEATURES else "chat", feature)


def _suggestions(totals: Mapping[str, Any]) -> tuple[int | None, int | None]:
    # Copilot counts each accept action, which can outnumber the blocks generated
    return suggestions(
        count(totals, "code_generation_activity_count"),
        count(totals, "code_acceptance_activity_count"),
    )


def _figures(kind: str, totals: Mapping[str, Any]) -> KindFigures:
    shown, accepted = _suggestions(totals)
    return KindFigures(
        kind=kind,
        requests=count(totals, "user_initiated_interaction_count") or 0,
        suggestions_shown=shown,
        suggestions_accepted=accepted,
        lines_accepted=count(totals, "loc_added_sum"),
    )


# A feature's figures as the lean path reads them: (requests, shown, accepted, lines).
_Part = tuple[int, int | None, int | None, int | None]
_NO_FIGURE = object()  # a field the lean path leaves to the careful one


def _plain_count(value: Any) -> Any:
    """A count the lean path takes as it is: absent, or a JSON whole number in bounds
    (`type() is int` leaves bools out); anything else is `_NO_FIGURE`."""
    if value is None or (type(value) is int and 0 <= value <= MAX_COUNT):
        return value
    return _NO_FIGURE


def _plain_report_day(number: int, record: dict[str, Any]) -> ReportDay | None:
    """`to_report_day` for the plain record nearly every line of a large org's report is (an
    ISO day, a login, features with whole-number counts, no CLI totals), read in one pass
    without a KindFigures per feature: the same ReportDay, or None for anything else, which
    the careful path then reads (and names what is wrong with it)."""
    login, day, features = (
        record.get("user_login"),
        record.get("day"),
        record.get("totals_by_feature"),
    )
    if (
        type(login) is not str
        or type(day) is not str
        or len(day) != 10
        or type(features) is not list
        or not features
        or record.get("totals_by_cli") is not None
    ):
        return None
    login = login.strip()
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        return None
    if not login:
        return None
    by_kind: dict[str, _Part] = {}
    for feature in features:
        if type(feature) is not dict:
            return None
        name = feature.get("feature")
        if type(name) is not str:
            return None
        shown = _plain_count(feature.get("code_generation_activity_count"))
        accepted = _plain_count(feature.get("code_acceptance_activity_count"))
        lines = _plain_count(feature.get("loc_added_sum"))
        if shown is _NO_FIGURE or accepted is _NO_FIGURE or lines is _NO_FIGURE:
            return None
        name = name.strip()
        if name == "code_completion":
            kind, requests = "inline_suggestion", 0
        elif not name:
            return None
        else:
            kind = "agent" if name in AGENT_FEATURES else "chat"
            requests = _plain_count(feature.get("user_initiated_interaction_count"))
            if requests is _NO_FIGURE:
                return None
            requests = requests or 0
        shown, accepted = suggestions(shown, accepted)  # as `_suggestions`
        if not (requests or shown or accepted or lines):
            continue  # an all-zero part says nothing (`nonzero`)
        if (seen := by_kind.get(kind)) is None:
            by_kind[kind] = (requests, shown, accepted, lines)
        else:  # as `merge`: counted figures added, unreported ones kept apart from zero
            by_kind[kind] = (
                seen[0] + requests,
                plus(seen[1], shown),
                plus(seen[2], accepted),
                plus(seen[3], lines),
            )
    return ReportDay(
        line=number,
        user=UserRef(vendor=("copilot", login.lower())),
        day=parsed,
        tool=TOOL,
        figures=tuple(_kind_figures(kind, part) for kind, part in sorted(by_kind.items())),
    )


# KindFigures are immutable and a large org's figures repeat (a few chats, no completions):
# one object per distinct part, instead of a frozen dataclass built field by field per line.
_SHARED_FIGURES: dict[tuple[str, _Part], KindFigures] = {}
_SHARED_LIMIT = 20_000  # a few megabytes at most; emptied when full


def _kind_figures(kind: str, part: _Part) -> KindFigures:
    key = (kind, part)
    if (figures := _SHARED_FIGURES.get(key)) is None:
        if len(_SHARED_FIGURES) >= _SHARED_LIMIT:
            _SHARED_FIGURES.clear()
        figures = _SHARED_FIGURES[key] = KindFigures(
            kind=kind,
            requests=part[0],
            suggestions_shown=part[1],
            suggestions_accepted=part[2],
            lines_accepted=part[3],
        )
    return figures

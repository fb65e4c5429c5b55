"""GitHub Copilot usage-metrics user reports (the 1-day and 28-day per-user NDJSON files):
one record per user and day, broken down by feature and, for the CLI, with tokens."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

from bot.intake.vendor_report import BadReport, RowError, calendar_day, count, merge, nonzero, text
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


def parse(lines: Iterable[str]) -> Iterator[ReportDay | BadRow]:
    """Records from an NDJSON report, one per line; blank lines are skipped. A file that is
    one JSON array (as the API's example shows) is read too, each item named by its index,
    and so is a document with a `day_totals` list (as GitHub's own metrics tooling writes it),
    on one line or pretty-printed."""
    stream = iter(enumerate(lines, start=1))
    first = True
    for number, line in stream:
        stripped = line.strip()
        if not stripped:
            continue
        was_first, first = first, False
        if was_first and stripped.startswith("["):
            rest = stripped + "".join(item for _, item in stream)
            yield from _parse_array(rest)
            return
        try:
            record = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            if was_first and stripped.startswith("{"):
                rest = stripped + "".join(item for _, item in stream)
                yield from _parse_document(rest)
                return
            yield BadRow(number, f"not a JSON object: {exc}")
            continue
        if isinstance(record, dict) and "day_totals" in record:
            yield from _day_totals(record, number)
            continue
        yield _row(number, record)


def _parse_array(body: str) -> Iterator[ReportDay | BadRow]:
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReport(f"the file starts a JSON array but is not valid JSON: {exc}") from None
    for index, record in enumerate(records, start=1):
        yield _row(index, record)


def _parse_document(body: str) -> Iterator[ReportDay | BadRow]:
    try:
        document = orjson.loads(body)
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
        return to_report_day(number, record)
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
        return KindFigures(
            kind="inline_suggestion",
            suggestions_shown=count(feature, "code_generation_activity_count"),
            suggestions_accepted=count(feature, "code_acceptance_activity_count"),
            lines_accepted=count(feature, "loc_added_sum"),
        )
    return _figures("agent" if name in AGENT_FEATURES else "chat", feature)


def _figures(kind: str, totals: Mapping[str, Any]) -> KindFigures:
    shown = count(totals, "code_generation_activity_count")
    accepted = count(totals, "code_acceptance_activity_count")
    if shown is not None and accepted is not None and accepted > shown:
        # Copilot counts each accept action, which can outnumber the blocks generated
        shown = accepted
    return KindFigures(
        kind=kind,
        requests=count(totals, "user_initiated_interaction_count") or 0,
        suggestions_shown=shown,
        suggestions_accepted=accepted,
        lines_accepted=count(totals, "loc_added_sum"),
    )

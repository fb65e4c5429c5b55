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
    one JSON array (as the API's example shows) is read too, each item named by its index."""
    stream = iter(enumerate(lines, start=1))
    for number, line in stream:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("["):
            rest = stripped + "".join(item for _, item in stream)
            yield from _parse_array(rest)
            return
        try:
            record = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            yield BadRow(number, f"not a JSON object: {exc}")
            continue
        yield _row(number, record)


def _parse_array(body: str) -> Iterator[ReportDay | BadRow]:
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadReport(f"the file starts a JSON array but is not valid JSON: {exc}") from None
    for index, record in enumerate(records, start=1):
        yield _row(index, record)


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

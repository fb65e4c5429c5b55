"""Anthropic's Claude Code usage report (Admin API, `/v1/organizations/usage_report/claude_code`):
one record per actor, day, terminal and customer type. Units, per Anthropic's reference: tokens
are counts, `estimated_cost.amount` is in cents of `currency` (only USD is turned into a cost),
lines of code, commits and pull requests made with Claude Code are counts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from bot.intake.vendor_report import RowError, amount, calendar_day, count, merge, nonzero, text
from storage.records import BadRow, KindFigures, ReportDay, UserRef

TOOL = "claude-code"


def parse_records(records: Iterable[Any], first_line: int = 1) -> Iterator[ReportDay | BadRow]:
    """The `data` items of one page; each is numbered from `first_line` in the day's stream."""
    for number, record in enumerate(records, start=first_line):
        try:
            if not isinstance(record, dict):
                raise RowError("a record must be a JSON object")
            yield to_report_day(number, record)
        except RowError as exc:
            yield BadRow(number, str(exc))


def _user(actor: Any) -> UserRef:
    if not isinstance(actor, dict):
        raise RowError("actor must be an object")
    if actor.get("type") == "api_actor":
        return UserRef(vendor=("claude-code", text(actor, "api_key_name")))
    email = text(actor, "email_address").lower()
    if "@" not in email:
        raise RowError(f"actor.email_address is not an address: {email!r}")
    return UserRef(email=email)


def _section(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = record.get(name) or {}
    if not isinstance(value, dict):
        raise RowError(f"{name} must be an object")
    return value


def to_report_day(number: int, record: Mapping[str, Any]) -> ReportDay:
    """Agent work: tokens and cost summed over the model breakdown (cache reads are not new
    work, as with Claude Code's OTLP metrics), lines added as accepted lines, and edit-tool
    decisions as suggestions shown (accepted + rejected) and accepted."""
    user = _user(record.get("actor"))
    day = calendar_day(record.get("date"), "date")
    core = _section(record, "core_metrics")
    lines = _section(core, "lines_of_code")
    input_tokens = output_tokens = 0
    cost: float | None = None
    models = record.get("model_breakdown") or []
    if not isinstance(models, list):
        raise RowError("model_breakdown must be a list")
    for model in models:
        if not isinstance(model, dict):
            raise RowError("model_breakdown holds objects")
        tokens = _section(model, "tokens")
        input_tokens += (count(tokens, "input") or 0) + (count(tokens, "cache_creation") or 0)
        count(tokens, "cache_read")  # checked, not counted
        output_tokens += count(tokens, "output") or 0
        estimated = _section(model, "estimated_cost")
        cents = amount(estimated, "amount")
        if cents is not None and str(estimated.get("currency", "USD")).upper() == "USD":
            cost = (cost or 0.0) + cents / 100
    shown = accepted = None
    for name, decisions in _section(record, "tool_actions").items():
        if not isinstance(decisions, dict):
            raise RowError(f"tool_actions.{name} must be an object")
        yes = count(decisions, "accepted") or 0
        no = count(decisions, "rejected") or 0
        shown, accepted = (shown or 0) + yes + no, (accepted or 0) + yes
    part = KindFigures(
        kind="agent",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        suggestions_shown=shown,
        suggestions_accepted=accepted,
        lines_accepted=count(lines, "added"),
        cost_usd=cost,
        commits=count(core, "commits_by_claude_code"),
        pull_requests=count(core, "pull_requests_by_claude_code"),
    )
    return ReportDay(
        line=number,
        user=user,
        day=day,
        tool=TOOL,
        figures=merge([part] if nonzero(part) else []),
    )

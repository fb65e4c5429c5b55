"""`aiusage report`: per person and tool totals for a week or a span of days, as CSV or JSON,
for finance and for anyone checking what an import did."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import date, datetime
from typing import Any

import orjson

from bot.cli.context import CliContext
from bot.cli.group_report import grouped_records
from bot.cli.report_columns import FIRST_FIGURES, LATER_FIGURES, report_figures
from bot.cli.spreadsheet import csv_row
from bot.cli.terminal import json_for_terminal
from bot.settings import Settings
from jobs.org_report import period_problem
from jobs.weeks import (
    FIRST_YEAR,
    LAST_YEAR,
    Week,
    current_week,
    last_complete_week,
    parse_week,
    week_of,
)
from storage.records import ReportLine
from storage.usage_report import usage_report

COLUMNS = (
    "slack_user_id",
    "email",
    "identity",
    "tool",
    *FIRST_FIGURES,
    "active_days",
    *LATER_FIGURES,
)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="per person and tool totals for a week or dates, as CSV or JSON",
        description=(
            "Per person and tool totals from the daily figures the bot answers from. Usage of "
            "a vendor identity no Slack user is linked to yet is listed under `identity`. "
            "Dates are days in AIUSAGE_TIMEZONE, both ends included."
        ),
    )
    span = parser.add_mutually_exclusive_group()
    span.add_argument("--week", metavar="YYYY-Www", help="an ISO week (default: the last complete)")
    span.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", metavar="DATE", help="last day, YYYY-MM-DD")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument(
        "--by",
        choices=("person", "team", "tool"),
        default="person",
        help="rows per person and tool (default), per team and tool, or per tool; teams and "
        "tools never cover fewer than AIUSAGE_MIN_GROUP_SIZE people (smaller: `other`), and "
        "cover whole ISO weeks that have ended",
    )
    parser.set_defaults(run=run_report)


def span_of(args: argparse.Namespace, settings: Settings, now: datetime) -> tuple[date, date]:
    """The days asked for; raises ValueError with a message a person can act on."""
    if args.week:
        week = parse_week(args.week)
        if args.end:
            raise ValueError("--to goes with --from, not with --week")
        return week.start, week.end
    if args.start or args.end:
        if not (args.start and args.end):
            raise ValueError("give both --from and --to")
        try:
            start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
        except ValueError:
            raise ValueError("dates are YYYY-MM-DD") from None
        for day in (start, end):
            # As --week: reads look a week past the span, so the calendar's ends overflow.
            if not FIRST_YEAR <= day.year <= LAST_YEAR:
                raise ValueError(
                    f"dates are of the years {FIRST_YEAR} to {LAST_YEAR}, not {day.year}"
                )
        if start > end:
            raise ValueError("--from is after --to")
        return start, end
    week = last_complete_week(now, settings.timezone)
    return week.start, week.end


def grouped_refusal(start: date, end: date, current: Week) -> str | None:
    """Why `--by team|tool` refuses days start..end, in words; None when it does not.
    Refused rather than widened: a CSV does not say its days, and a widened period would
    pass for the one asked for."""
    problem = period_problem(start, end, current)
    if problem == "partial_weeks":
        return (
            "--by team and --by tool cover whole ISO weeks (Monday to Sunday), so two reports "
            "never differ by a few days of a few people's usage: use --from "
            f"{week_of(start).start} --to {week_of(end).end}, or --week"
        )
    if problem == "unfinished_week":
        return (
            f"--by team and --by tool cover weeks that have ended, and {current.label} has "
            "not, so two reports of a week taken a day apart never differ by one day of a few "
            f"people's usage: end the period by {current.previous().end}"
        )
    return None


def as_record(line: ReportLine) -> dict[str, Any]:
    """One row of the report with the contract's columns; None where nobody reported."""
    figures = report_figures(line.totals)
    record: dict[str, Any] = {
        "slack_user_id": line.slack_user_id,
        "email": line.email,
        "identity": line.identity,
        "tool": line.tool,
        "active_days": line.active_days,
        **figures,
    }
    return {column: record[column] for column in COLUMNS}


def run_report(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    try:
        start, end = span_of(args, settings, cli.clock())
    except ValueError as exc:
        print(f"aiusage: {exc}", file=sys.stderr)
        return 2
    db = cli.db
    columns: tuple[str, ...] = COLUMNS
    if args.by == "person":
        records = [as_record(line) for line in usage_report(db, start, end)]
    else:
        refused = grouped_refusal(start, end, current_week(cli.clock(), settings.timezone))
        if refused:
            print(f"aiusage: {refused}", file=sys.stderr)
            return 2
        grouped = grouped_records(db, settings, args.by, start, end)
        columns, records = grouped.columns, grouped.records
        if grouped.left_out:
            labels = ", ".join(week.label for week in grouped.left_out)
            print(
                f"aiusage: left out {labels}: fewer than {settings.min_group_size} people "
                "(AIUSAGE_MIN_GROUP_SIZE) had usage in it, and a report with it minus one "
                "without would be theirs",
                file=sys.stderr,
            )
    if args.format == "json":
        encoded = orjson.dumps(records, option=orjson.OPT_INDENT_2).decode()
        sys.stdout.write(json_for_terminal(encoded) + "\n")
        return 0
    fields = list(records[0]) if records else list(columns)
    writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(csv_row(record))
    return 0

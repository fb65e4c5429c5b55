"""`aiusage import SOURCE FILE [--integration NAME]`: a vendor's usage report into the rollup."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TextIO

from bot.cli.context import CliContext
from bot.intake import copilot, cursor, kiro
from bot.intake.vendor_report import BadReport, within_bounds
from jobs.weeks import local_day
from storage.db import Database
from storage.imports import ReplacedKey, replace_report_days
from storage.integrations import get_integration
from storage.records import BadRow, ReportDay

CHUNK_ROWS = 1000
PROGRESS_EVERY = 10_000

Parser = Callable[[TextIO], Iterator[ReportDay | BadRow]]
PARSERS: dict[str, Parser] = {
    "copilot": copilot.parse,
    "cursor": lambda handle: cursor.parse(handle.read()),
    "kiro": kiro.parse,
}

EPILOG = """\
sources:
  copilot  GitHub Copilot usage-metrics user report (1-day or 28-day), NDJSON
  cursor   Cursor Admin API /teams/daily-usage-data response, JSON
  kiro     Kiro user-activity CSV: the per-client report or the per-user activity report

Re-importing a file, or a report that overlaps one already imported, replaces the figures
for each person and day it holds rather than adding to them. So does a row of a file that
names a person and day (and client) an earlier row named: the later row counts, as if the
two had been imported one after the other, and stderr says how many rows did so.

exit status: 0 every row imported; 1 some rows were rejected (each is named on stderr with
its line number, and the rest imported); 2 bad usage, unknown integration or unreadable file.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "import",
        help="import a vendor's usage report",
        description="Imports a vendor's usage report into the daily figures.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", choices=sorted(PARSERS), help="whose report it is")
    parser.add_argument("file", help="the report file")
    parser.add_argument(
        "--integration",
        metavar="NAME",
        help="the integration it came through; keeps figures of several organisations apart",
    )
    parser.set_defaults(run=run_import)


def run_import(args: argparse.Namespace, cli: CliContext) -> int:
    db = cli.db
    if args.integration and get_integration(db, args.integration) is None:
        print(f"aiusage: no integration named {args.integration!r}", file=sys.stderr)
        return 2
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            imported, rejected = _import(db, args, handle, cli.clock())
    except (OSError, UnicodeDecodeError) as exc:
        print(f"aiusage: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    except (BadReport, csv.Error) as exc:
        print(f"aiusage: {args.file}: {exc}", file=sys.stderr)
        return 2
    print(f"Imported {imported} rows of {args.source} usage from {args.file}; {rejected} rejected.")
    return 1 if rejected else 0


def _import(
    db: Database, args: argparse.Namespace, handle: TextIO, now: datetime
) -> tuple[int, int]:
    replaced: set[ReplacedKey] = set()
    chunk: list[ReportDay] = []
    repeated: list[int] = []
    imported = rejected = 0
    today = local_day(now, db.tz)
    for parsed in PARSERS[args.source](handle):
        item = parsed if isinstance(parsed, BadRow) else within_bounds(parsed, today)
        if isinstance(item, BadRow):
            rejected += 1
            print(f"aiusage: {args.file}:{item.line}: {item.error}", file=sys.stderr)
            continue
        chunk.append(item)
        imported += 1
        if len(chunk) >= CHUNK_ROWS:
            repeated += replace_report_days(db, args.source, args.integration, chunk, replaced, now)
            chunk = []
        if imported % PROGRESS_EVERY == 0:
            print(f"aiusage: {imported} rows imported so far", file=sys.stderr, flush=True)
    repeated += replace_report_days(db, args.source, args.integration, chunk, replaced, now)
    if repeated:
        # Not a rejection: each row was imported, as a second import of it would be.
        print(
            f"aiusage: {args.file}:{repeated[0]}: names a person and day an earlier row named; "
            f"the later row counts (rows doing so: {len(repeated)})",
            file=sys.stderr,
        )
    return imported, rejected

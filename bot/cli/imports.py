"""`aiusage import SOURCE FILE [--integration NAME]`: a vendor's usage report into the rollup."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import BinaryIO

from bot.cli.context import CliContext
from bot.connectors.limits import MAX_LINE_BYTES, TooLarge, bounded_lines, mib
from bot.intake import copilot, cursor, kiro
from bot.intake.vendor_report import DECODE_ERRORS, BadReport, DocumentTooLarge
from jobs.weeks import local_day
from storage.bounds import within_bounds
from storage.coordination import one_writer_of_report
from storage.db import Database
from storage.imports import ReplacedKey, replace_report_days
from storage.integrations import get_integration
from storage.records import BadRow, ReportDay

CHUNK_ROWS = 1000
PROGRESS_EVERY = 10_000
READ_BYTES = 2**20
# Memory held by an import stays near these, however large the file: a line (a person's
# day, a few KB) is read one at a time, but a report that is one JSON document (Cursor's
# answer, a Copilot array) is parsed whole, into several times its size of objects.
MAX_DOCUMENT_BYTES = 64 * 2**20
SMALLER_DOCUMENT = {
    "copilot": "import the NDJSON report, one record a line, instead",
    "cursor": "ask the API for fewer days at a time (startDate, endDate)",
}


def _lines(handle: BinaryIO) -> Iterator[str]:
    """The file's lines as text, ends kept (a quoted CSV cell may hold one), decoded so that
    the parser rejects a line that is not UTF-8; a line past MAX_LINE_BYTES refuses the file
    before more of it is held."""
    number = 0
    chunks = iter(lambda: handle.read(READ_BYTES), b"")
    try:
        for line in bounded_lines(chunks, MAX_LINE_BYTES, keepends=True):
            number += 1
            yield line.decode("utf-8-sig" if number == 1 else "utf-8", DECODE_ERRORS)
    except TooLarge:
        raise BadReport(
            f"line {number + 1} is longer than {mib(MAX_LINE_BYTES)}, the most an import reads"
        ) from None


def _document(handle: BinaryIO) -> str:
    """The whole file as text, refused past MAX_DOCUMENT_BYTES before more is read."""
    body = handle.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(MAX_DOCUMENT_BYTES)
    return body.decode("utf-8-sig", DECODE_ERRORS)


Parser = Callable[[BinaryIO], Iterator[ReportDay | BadRow]]
PARSERS: dict[str, Parser] = {
    "copilot": lambda handle: copilot.parse(_lines(handle), max_document_bytes=MAX_DOCUMENT_BYTES),
    "cursor": lambda handle: cursor.parse(_document(handle)),
    "kiro": lambda handle: kiro.parse(_lines(handle)),
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

A row is rejected, named by its line, when a figure or name in it is bad or a byte of it is
not UTF-8. Where a vendor counts more suggestions accepted than shown (each accept action
counts), shown is raised to accepted. A CSV header naming a column twice refuses the file.

exit status: 0 every row imported; 1 some rows were rejected (each is named on stderr with
its line number, and the rest imported); 2 bad usage, unknown integration or unreadable file.
Rows are stored 1,000 at a time: a file that stops being readable part way (a line too long,
JSON broken off) exits 2 with how many rows were stored before; importing it again, mended,
replaces them.
"""


@dataclass
class Progress:
    """Rows of this import committed so far: what a stop part way leaves stored."""

    stored: int = 0


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
    progress = Progress()
    try:
        with (
            open(args.file, "rb") as handle,
            one_writer_of_report(db, args.source, args.integration, partial(_waiting, args)),
        ):
            imported, rejected = _import(db, args, handle, cli.clock(), progress)
    except OSError as exc:
        return _stopped(f"cannot read {args.file}: {exc}", progress)
    except DocumentTooLarge as exc:
        return _stopped(
            f"{args.file}: is one JSON document, read whole, and longer than "
            f"{mib(exc.limit)}, the most an import holds; {SMALLER_DOCUMENT[args.source]}",
            progress,
        )
    except (BadReport, csv.Error) as exc:
        return _stopped(f"{args.file}: {exc}", progress)
    except BaseException:  # the database gone, ^C: said by main, or Python; this adds what stays
        if progress.stored:
            print(f"aiusage: {args.file}: {_stored(progress)}", file=sys.stderr)
        raise
    print(f"Imported {imported} rows of {args.source} usage from {args.file}; {rejected} rejected.")
    return 1 if rejected else 0


def _waiting(args: argparse.Namespace) -> None:
    print(
        f"aiusage: waiting for another import or sync of {args.source} usage to finish",
        file=sys.stderr,
        flush=True,
    )


def _stopped(message: str, progress: Progress) -> int:
    """Exit 2 for a file that cannot be read on; saying so, and what it left stored."""
    if progress.stored:
        message = f"{message}; {_stored(progress)}"
    print(f"aiusage: {message}", file=sys.stderr)
    return 2


def _stored(progress: Progress) -> str:
    # Each row cleared its person's day (and client) of this source before it was written,
    # so a second import of the file, mended, replaces them rather than adding to them.
    rows = "1 row was" if progress.stored == 1 else f"{progress.stored:,} rows were"
    return f"{rows} stored before the import stopped; importing the file again replaces them"


def _import(
    db: Database, args: argparse.Namespace, handle: BinaryIO, now: datetime, progress: Progress
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
            progress.stored += len(chunk)
            chunk = []
        if imported % PROGRESS_EVERY == 0:
            print(f"aiusage: {imported} rows imported so far", file=sys.stderr, flush=True)
    repeated += replace_report_days(db, args.source, args.integration, chunk, replaced, now)
    progress.stored += len(chunk)
    if repeated:
        # Not a rejection: each row was imported, as a second import of it would be.
        print(
            f"aiusage: {args.file}:{repeated[0]}: names a person and day an earlier row named; "
            f"the later row counts (rows doing so: {len(repeated)})",
            file=sys.stderr,
        )
    return imported, rejected

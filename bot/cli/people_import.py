"""`aiusage people import FILE`: link vendor identities to Slack users in bulk, from a CSV with
header `identity,slack_user` (as `people link` takes them; slack_user an ID or an email)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.cli import cli_actor
from bot.cli.context import CliContext
from bot.cli.people import parse_identity
from bot.intake.vendor_report import BadReport, unique_columns
from bot.slack.identity import LookupFailed, email_lookup
from storage.admin import record_audit
from storage.bounds import SLACK_USER_ID
from storage.db import Database
from storage.people import link_email, link_identity, slack_user_for_email

EPILOG = """\
FILE is a CSV with the header identity,slack_user, e.g.
  identity,slack_user
  copilot:octocat,U012AB3CD
  kiro:d-9067c4a1f2.3c1e5f0a,ada@example.com

identity is KIND:VALUE or a bare email, as `people link` takes it. slack_user is a Slack user
ID, or the email of a Slack user (known from earlier usage, or looked up in Slack when
SLACK_BOT_TOKEN is set).

exit status: 0 every row linked; 1 some rows were rejected (each named on stderr with its
line, the rest linked), or Slack could not be asked about a row's email (no connection, no
answer in time, a 5xx, or rate-limited through the retries) or refused the bot token (a
scope missing, such as users:read.email, or the token revoked): the import stopped at that
row, named on stderr with how many rows were done, and the same file run again goes on from
there; 2 the file cannot be read or has not that header (or names a column twice).
"""


def register(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "import",
        help="link identities to Slack users in bulk from a CSV",
        description="Links vendor identities to Slack users in bulk.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE")
    parser.set_defaults(run=run_people_import)


def run_people_import(args: argparse.Namespace, cli: CliContext) -> int:
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.lower() for name in unique_columns(reader.fieldnames or [])]
            if "identity" not in header or "slack_user" not in header:
                print(
                    f"aiusage: {args.file}: the header must be identity,slack_user", file=sys.stderr
                )
                return 2
            rows = [(reader.line_num, _cells(row, len(header))) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"aiusage: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    except BadReport as exc:  # a column named twice: a row would take one of its cells
        print(f"aiusage: {args.file}: {exc}", file=sys.stderr)
        return 2
    db = cli.db
    actor = cli_actor()
    lookup = email_lookup(cli.settings)
    # Each row is linked in its own transaction: audited before the first, a run killed
    # part way still has an entry for the links it made (the summary comes at the end).
    record_audit(
        db, actor, "people.import", "started", cli.clock(), f"{len(rows)} rows from {args.file}"
    )
    linked = rejected = 0
    for line, row in rows:
        try:
            if isinstance(row, str):
                raise ValueError(row)
            kind, value = parse_identity(row.get("identity", ""))
            user_id = _slack_user(db, row.get("slack_user", ""), lookup, cli.clock())
        except ValueError as exc:
            rejected += 1
            print(f"aiusage: {args.file}:{line}: {exc}", file=sys.stderr)
            continue
        except LookupFailed as exc:
            # Stopped rather than rejected: Slack may well know the email, and the rows after
            # it would each wait out the same outage, or meet the same refusal of our token.
            # Each row linked is its own transaction and linking one again changes nothing,
            # so the same file run again goes on here.
            done = f"{linked + rejected} of {len(rows)} rows done"
            done += f" ({linked} linked, {rejected} rejected)"
            print(
                f"aiusage: {args.file}:{line}: stopped: {exc.line()}; {done}; run the same "
                "file again to go on from here (rows linked stay linked)",
                file=sys.stderr,
            )
            record_audit(
                db, actor, "people.import", "stopped", cli.clock(), f"{done} from {args.file}"
            )
            return 1
        link_identity(db, kind, value, user_id, actor, cli.clock())
        linked += 1
    record_audit(
        db, actor, "people.import", "done", cli.clock(),
        f"{linked} linked, {rejected} rejected from {args.file}",
    )  # fmt: skip
    print(f"Linked {linked} identities from {args.file}; {rejected} rejected.")
    return 1 if rejected else 0


def _cells(row: dict[str | None, Any], columns: int) -> dict[str, str] | str:
    """A row's cells by lower-cased column name, or why it cannot be read: DictReader puts
    the cells past the header under None, as a list, and leaves missing ones None."""
    if None in row or None in row.values():
        past_header = row.pop(None, None) or []
        given = sum(value is not None for value in row.values()) + len(past_header)
        return f"has {given} field{'' if given == 1 else 's'}; the header has {columns}"
    return {str(k).strip().lower(): str(v).strip() for k, v in row.items()}


def _slack_user(
    db: Database, text: str, lookup: Callable[[str], str | None] | None, now: datetime
) -> str:
    if SLACK_USER_ID.fullmatch(text):
        return text
    if "@" not in text:
        raise ValueError(f"slack_user {text!r} is neither a Slack user ID nor an email")
    email = text.lower()
    known = slack_user_for_email(db, email)
    if known is None and lookup is not None:
        known = lookup(email)
        if known is not None:
            link_email(db, email, known, now)
    if known is None:
        raise ValueError(f"no Slack user is known by {email!r}")
    return known

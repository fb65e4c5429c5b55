"""`aiusage audit [--since DATE]`: who did what, when, with what outcome."""

from __future__ import annotations

import argparse
from datetime import date, datetime, time

from bot.cli.context import CliContext
from bot.cli.terminal import printable
from storage.admin import audit_log


def register(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="list the audit log of admin actions")
    audit.add_argument(
        "--since",
        type=date.fromisoformat,
        metavar="DATE",
        help="only entries from this day (YYYY-MM-DD, in AIUSAGE_TIMEZONE) on",
    )
    audit.set_defaults(run=run_audit)


def run_audit(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    db = cli.db
    since = datetime.combine(args.since, time(), settings.timezone) if args.since else None
    entries = audit_log(db, since)
    if not entries:
        print("No audit entries" + (f" since {args.since}." if since else "."))
        return 0
    zone = settings.timezone.key
    print(f"{'WHEN (' + zone + ')':<26} {'WHO':<12} {'ACTION':<16} {'OUTCOME':<10} DETAIL")
    for entry in entries:
        when = entry.at.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M:%S")
        # Shown as `connectors list` shows a vendor's error: a detail may hold what someone
        # else chose (an announcement a script passed on, a file's name).
        actor, action, outcome = (printable(x) for x in (entry.actor, entry.action, entry.outcome))
        detail = printable((entry.detail or "").replace("\n", " "))
        print(f"{when:<26} {actor:<12} {action:<16} {outcome:<10} {detail}")
    return 0

"""`aiusage teams import FILE` and `aiusage teams list`: who is in which team, for the org
view and `report --by team`."""

from __future__ import annotations

import argparse
import csv
import sys

from bot.cli import cli_actor
from bot.cli.context import CliContext
from bot.cli.people import parse_identity
from bot.cli.spreadsheet import cell
from jobs.teams import read_teams_file
from storage.admin import record_audit
from storage.bounds import SLACK_USER_ID
from storage.teams import list_teams, replace_teams

EPILOG = """\
The file is CSV with the header `team,member`; a member is a Slack user ID (U012AB3CD), an
email, or a vendor identity as `people link` takes it (copilot:octocat). A person may be in
several teams. Importing again replaces every team an earlier file gave: teams missing from
the new file are removed. Nothing is imported when any line is bad (each is named on
stderr). Teams from Slack user groups are kept apart and never touched by an import.

exit status: 0 imported; 1 a line was bad (nothing changed); 2 unreadable file.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("teams", help="teams, for the org view and grouped reports")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = actions.add_parser(
        "import",
        help="replace the imported teams with a team,member CSV",
        description="Replaces the teams a CSV gave before with this CSV's teams.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("file", help="CSV with header team,member")
    load.set_defaults(run=run_import)
    show = actions.add_parser(
        "list",
        help="teams, their sizes and where they came from",
        description="Each team and source (csv, slack, copilot) as CSV: members listed, and "
        "how many of them are linked to a Slack user (only those count).",
    )
    show.set_defaults(run=run_list)


def parse_member(text: str) -> tuple[str, str]:
    """A member as an identity key: a Slack user ID, an email, or KIND:VALUE."""
    if SLACK_USER_ID.fullmatch(text):
        return "slack", text
    return parse_identity(text)


def run_import(args: argparse.Namespace, cli: CliContext) -> int:
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as handle:
            found = read_teams_file(handle, parse_member)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"aiusage: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    if found.errors:
        for line, error in found.errors[:100]:
            print(f"aiusage: line {line}: {error}", file=sys.stderr)
        print("aiusage: nothing was imported", file=sys.stderr)
        return 1
    db = cli.db
    replace_teams(db, "csv", found.teams, cli.clock())
    members = sum(len(m) for m in found.teams.values())
    record_audit(
        db,
        cli_actor(),
        "teams.import",
        "done",
        cli.clock(),
        f"{len(found.teams)} teams, {members} memberships",
    )
    print(f"Imported {len(found.teams)} teams with {members} memberships.")
    return 0


def run_list(args: argparse.Namespace, cli: CliContext) -> int:
    teams = list_teams(cli.db)
    if not teams:
        print("No teams yet: see `aiusage teams import --help`.")
        return 0
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["team", "source", "members", "linked", "updated_at"])
    for team in teams:
        writer.writerow(
            [
                cell(team.name),
                team.source,
                team.members,
                team.linked,
                team.updated_at.isoformat(timespec="seconds"),
            ]
        )
    return 0

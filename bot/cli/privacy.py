"""`aiusage people forget|export` (requests that come by email) and `aiusage db prune`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli import cli_actor
from bot.cli.context import CliContext
from bot.cli.terminal import json_for_terminal
from bot.slack.client import make_web_client
from bot.slack.forgotten_home import SlackHomeEraser
from bot.slack.notifier import SlackNotifier
from jobs.privacy import EditReport, forget_person
from jobs.retention import apply_retention
from storage.admin import record_audit
from storage.bounds import SLACK_USER_ID
from storage.db import Database
from storage.privacy_read import export, find_subject
from storage.privacy_records import Subject

PERSON_HELP = "a Slack user ID (U012AB3CD), or an identity: KIND:VALUE or a bare email"


def register_people(actions: argparse._SubParsersAction) -> None:
    """Adds `forget` and `export` to `aiusage people`."""
    forget = actions.add_parser(
        "forget",
        help="delete everything stored about a person (audited)",
        description="Deletes the person's usage, figures, identities, badges and settings in "
        "one transaction; their badges stay as anonymous entries and award posts that named "
        "them are edited. Usage that arrives later for them is dropped until they opt in.",
    )
    forget.add_argument("person", metavar="USERID|IDENTITY", help=PERSON_HELP)
    forget.set_defaults(run=run_forget)
    dump = actions.add_parser(
        "export",
        help="print everything stored about a person as one JSON document",
    )
    dump.add_argument("person", metavar="USERID|IDENTITY", help=PERSON_HELP)
    dump.set_defaults(run=run_export)


def register_db(actions: argparse._SubParsersAction) -> None:
    """Adds `prune` to `aiusage db`."""
    prune = actions.add_parser(
        "prune",
        help="apply the retention settings now and print what was deleted",
    )
    prune.set_defaults(run=run_prune)


def _subject(db: Database, text: str) -> Subject:
    """The person (or lone identity) named on the command line; someone nothing is stored
    about still gets a subject, so a forget still stops their later usage."""
    # Imported here: `bot.cli.people` imports this module to register forget and export.
    from bot.cli.people import parse_identity

    text = text.strip()
    if SLACK_USER_ID.fullmatch(text):
        return find_subject(db, slack_user_id=text) or Subject(None, text, None, ())
    kind, value = parse_identity(text)
    found = find_subject(db, identity=(kind, value))
    if found is not None:
        return found
    if kind == "slack":
        return Subject(None, value, None, ())
    # Nothing stored: no row to delete (id -1 matches none), only the tombstone to leave.
    return Subject(None, None, None, ((-1, kind, value),))


def run_forget(args: argparse.Namespace, cli: CliContext) -> int:
    db = cli.db
    try:
        subject = _subject(db, args.person)
    except ValueError as exc:
        print(f"aiusage: {exc}", file=sys.stderr)
        return 2
    # Without 5xx retries, as for posting: an edit Slack made may still answer 5xx. A 429
    # comes back at once: what it stops stays owed for `serve` (the edits, the chart files)
    # or is published at the person's next Home open, rather than the operator waiting out
    # up to five Retry-Afters per call.
    client = (
        make_web_client(cli.settings, retry_server_errors=False, wait_out_rate_limits=False)
        if cli.settings.slack_bot_token is not None
        else None
    )
    report = forget_person(
        db,
        subject,
        actor=cli_actor(),
        now=cli.clock(),
        editor=SlackNotifier(client) if client else None,
        rules=cli.settings.award_rules(),
        home=SlackHomeEraser(client) if client else None,
        policy=cli.settings.post_policy(),
    )
    print(f"Forgotten: {report.forgotten.summary()}")
    print_edits(report.edits)
    for line in report.home_not_erased:
        print(f"aiusage: not emptied in Slack: {line}", file=sys.stderr)
    if report.home_rate_limited:
        print(
            "Slack is rate-limiting the App Home just now; their tab is emptied the next time they "
            "open it."
        )
    if n := report.files_rate_limited:
        print(f"Slack is rate-limiting file deletes just now; `aiusage serve` deletes {n} shortly.")
    print("Usage that arrives for them from now on is dropped until they type /aiusage optin.")
    undone = report.home_not_erased or report.home_rate_limited or report.files_rate_limited
    return 1 if report.edits.failed or undone else 0


def print_edits(edits: EditReport) -> None:
    """What a pass over the owed award-post edits did, and what it leaves owed: every owed
    week is tried, so a rerun after a Slack outage says what is still to do."""
    print(f"Award posts edited: {len(edits.edited)}")
    for line in edits.failed:
        print(f"aiusage: award post not edited: {line}", file=sys.stderr)
    for line in edits.waiting:
        print(f"Award post still to edit: {line}")
    if edits.rate_limited:
        print("Slack is rate-limiting edits just now; `aiusage serve` makes them shortly.")
    if edits.failed or edits.waiting:
        print("What is still to edit is retried by `aiusage serve` until Slack takes it.")


def run_export(args: argparse.Namespace, cli: CliContext) -> int:
    db = cli.db
    try:
        subject = _subject(db, args.person)
    except ValueError as exc:
        print(f"aiusage: {exc}", file=sys.stderr)
        return 2
    document: dict[str, Any] = {"exported_at": cli.clock().isoformat(), **export(db, subject)}
    # The audit keeps that an export was made and by whom, not whose data it was.
    record_audit(db, cli_actor(), "people.export", "done", cli.clock())
    encoded = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(json_for_terminal(encoded) + "\n")
    return 0


def run_prune(_args: argparse.Namespace, cli: CliContext) -> int:
    counts = apply_retention(cli.db, cli.settings.retention(), cli.clock())
    labels = {
        "events": "raw usage events",
        "daily": "daily figures",
        "flags": "integrity flags",
        "team_spells": "ended team memberships",
        "otlp_series": "OpenTelemetry series states",
        "audit": "audit log entries",
        "refusals": "audit entries of refused commands",
        "outbox": "delivered or cancelled posts from the outbox",
        "job_runs": "claims of scheduled job runs",
        "owed_replies": "replies owed to slash commands, past Slack's 30 minutes",
    }
    for name, n in counts.items():
        print(f"deleted {n} {labels[name]}")
    return 0

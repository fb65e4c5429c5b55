"""`aiusage people forget|export` (requests that come by email) and `aiusage db prune`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.commands import cli_actor
from bot.settings import Settings
from jobs.privacy import forget_person
from jobs.retention import RetentionConfig, apply_retention
from jobs.weeks import utcnow
from storage.admin import record_audit
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


def retention_config(settings: Settings) -> RetentionConfig:
    return RetentionConfig(
        tz=settings.timezone,
        raw_days=settings.raw_retention_days,
        rollup_days=settings.rollup_retention_days,
        otlp_days=settings.otlp_retention_days,
        audit_days=settings.audit_retention_days,
    )


def _subject(db: Database, text: str) -> Subject:
    """The person (or lone identity) named on the command line; someone nothing is stored
    about still gets a subject, so a forget still stops their later usage."""
    from bot.commands.people import SLACK_USER_RE, parse_identity

    text = text.strip()
    if SLACK_USER_RE.match(text):
        return find_subject(db, slack_user_id=text) or Subject(None, text, None, ())
    kind, value = parse_identity(text)
    found = find_subject(db, identity=(kind, value))
    if found is not None:
        return found
    if kind == "slack":
        return Subject(None, value, None, ())
    # Nothing stored: no row to delete (id -1 matches none), only the tombstone to leave.
    return Subject(None, None, None, ((-1, kind, value),))


def run_forget(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import slack_notifier  # the composition root builds the Slack side

    db = Database(settings.database_url, settings.timezone)
    db.upgrade()
    try:
        try:
            subject = _subject(db, args.person)
        except ValueError as exc:
            print(f"aiusage: {exc}", file=sys.stderr)
            return 2
        report = forget_person(
            db,
            subject,
            actor=cli_actor(),
            now=utcnow(),
            editor=slack_notifier(settings),
            rules=settings.award_rules(),
        )
    finally:
        db.dispose()
    print(f"Forgotten: {report.forgotten.summary()}")
    print(f"Award posts edited: {len(report.edited)}")
    for line in report.not_edited:
        print(f"aiusage: award post not edited: {line}", file=sys.stderr)
    print("Usage that arrives for them from now on is dropped until they type /aiusage optin.")
    return 1 if report.not_edited else 0


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.database_url, settings.timezone)
    db.upgrade()
    try:
        try:
            subject = _subject(db, args.person)
        except ValueError as exc:
            print(f"aiusage: {exc}", file=sys.stderr)
            return 2
        document: dict[str, Any] = {"exported_at": utcnow().isoformat(), **export(db, subject)}
        # The audit keeps that an export was made and by whom, not whose data it was.
        record_audit(db, cli_actor(), "people.export", "done", utcnow())
    finally:
        db.dispose()
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
    return 0


def run_prune(_args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.database_url, settings.timezone)
    db.upgrade()
    try:
        counts = apply_retention(db, retention_config(settings), utcnow())
    finally:
        db.dispose()
    labels = {
        "events": "raw usage events",
        "daily": "daily figures",
        "flags": "integrity flags",
        "otlp_series": "OpenTelemetry series states",
        "audit": "audit log entries",
    }
    for name, n in counts.items():
        print(f"deleted {n} {labels[name]}")
    return 0

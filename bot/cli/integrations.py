"""`aiusage integrations create|list|revoke`."""

from __future__ import annotations

import argparse
import re
import sys

from bot.cli import cli_actor
from bot.cli.context import CliContext
from storage.admin import record_audit
from storage.db import Database
from storage.integrations import (
    IntegrationExists,
    create_integration,
    list_integrations,
    renew_integration,
    revoke_integration,
)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("integrations", help="tool integrations and their API keys")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="register an integration and print its API key once; for a revoked one, a new key",
        description="Register an integration and print its API key once, alone on the last "
        "line. For a revoked integration, issue a new key and make it active again: the same "
        "integration, so its figures carry on under its name; the old key stays refused. An "
        "active integration is refused (revoke it first to replace its key).",
    )
    create.add_argument("name", help="lower-case name, also the default tool of its events")
    create.set_defaults(run=run_create)
    actions.add_parser("list", help="list integrations").set_defaults(run=run_list)
    revoke = actions.add_parser("revoke", help="revoke an integration's key at once")
    revoke.add_argument("name")
    revoke.set_defaults(run=run_revoke)


def _db(cli: CliContext) -> Database:
    db = cli.db
    return db


def run_create(args: argparse.Namespace, cli: CliContext) -> int:
    if not NAME_RE.match(args.name):
        print(
            "aiusage: integration names are 1-64 of a-z 0-9 . _ - (e.g. claude-code)",
            file=sys.stderr,
        )
        return 2
    db = _db(cli)
    renewed = renew_integration(db, args.name)
    if renewed is not None:
        record_audit(
            db, cli_actor(), "integrations.create", "done", cli.clock(), f"{args.name}: new key"
        )
        print(
            f"Integration {args.name} was revoked; it has a new key and is active again (its "
            "old key stays refused). Its API key is shown this once; store it now:"
        )
        print(renewed[1])
        return 0
    try:
        _, key = create_integration(db, args.name, cli.clock())
    except IntegrationExists:
        record_audit(db, cli_actor(), "integrations.create", "refused", cli.clock(), "exists")
        print(
            f"aiusage: integration {args.name!r} already exists and is active (revoke it "
            "first to give it a new key)",
            file=sys.stderr,
        )
        return 1
    record_audit(db, cli_actor(), "integrations.create", "done", cli.clock(), args.name)
    print(f"Created integration {args.name}. Its API key is shown this once; store it now:")
    print(key)
    return 0


def run_list(_args: argparse.Namespace, cli: CliContext) -> int:
    found = list_integrations(_db(cli))
    if not found:
        print("No integrations yet. Create one with: aiusage integrations create NAME")
        return 0
    print(f"{'NAME':<24} {'STATE':<8} {'CREATED':<20} LAST EVENT")
    for item in found:
        state = "active" if item.active else "revoked"
        last = item.last_event_at.strftime("%Y-%m-%d %H:%M") if item.last_event_at else "-"
        print(f"{item.name:<24} {state:<8} {item.created_at:%Y-%m-%d %H:%M} UTC {last}")
    return 0


def run_revoke(args: argparse.Namespace, cli: CliContext) -> int:
    db = _db(cli)
    if revoke_integration(db, args.name, cli.clock()):
        record_audit(db, cli_actor(), "integrations.revoke", "done", cli.clock(), args.name)
        print(f"Revoked {args.name}; its key is refused from now on.")
        return 0
    record_audit(db, cli_actor(), "integrations.revoke", "refused", cli.clock(), args.name)
    print(f"aiusage: no active integration named {args.name!r}", file=sys.stderr)
    return 1

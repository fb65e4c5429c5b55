"""`aiusage db upgrade` and `aiusage db prune`."""

from __future__ import annotations

import argparse

from bot.cli import privacy
from bot.cli.context import CliContext
from storage.db import Database, display_url


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database maintenance")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply schema migrations")
    upgrade.add_argument(
        "--change-timezone",
        action="store_true",
        help="count new days in AIUSAGE_TIMEZONE from now on, in place of the zone the "
        "database's days were counted in so far (stop every aiusage process first)",
    )
    upgrade.set_defaults(run=run_upgrade)
    privacy.register_db(actions)


def run_upgrade(args: argparse.Namespace, cli: CliContext) -> int:
    if not args.change_timezone:
        database = cli.services(migrate=True).db
        done = what_ran(database.migrated)
        print(f"database {done or 'is up to date'} ({display_url(database.url)})")
        return 0
    # Not through `cli.services`, which refuses a database counted in another zone.
    database = Database(cli.settings.database_url, cli.settings.timezone)
    try:
        previous = database.upgrade(change_zone=True)
    finally:
        database.dispose()
    zone, done = cli.settings.timezone.key, what_ran(database.migrated)
    if previous is None:
        print(f"database {done or 'is up to date'}; its days are counted in {zone}")
    else:
        if done:
            print(f"database {done}")
        print(
            f"new days are counted in {zone}, no longer in {previous}; days already counted "
            "keep their dates"
        )
    return 0


def what_ran(migrated: tuple[str | None, str] | None) -> str | None:
    """The migrations an upgrade applied, in words after "database"; None when none ran."""
    if migrated is None:
        return None
    found, now_at = migrated
    if found is None:
        return f"created at revision {now_at}"
    return f"upgraded from revision {found} to {now_at}"

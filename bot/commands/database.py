"""`aiusage db upgrade`."""

from __future__ import annotations

import argparse
import sys

from bot.settings import Settings
from storage.coordination import SchemaTooNew, upgrade
from storage.db import Database


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database maintenance")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply schema migrations")
    upgrade.set_defaults(run=run_upgrade)


def run_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database_url, settings.timezone)
    try:
        upgrade(database)
    except SchemaTooNew as exc:
        print(f"aiusage: AIUSAGE_DATABASE_URL: {exc}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    print(f"database is up to date ({database.url.render_as_string(hide_password=True)})")
    return 0

"""`aiusage db upgrade`."""

from __future__ import annotations

import argparse

from bot.commands import privacy
from bot.settings import Settings
from storage.db import Database


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database maintenance")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply schema migrations")
    upgrade.set_defaults(run=run_upgrade)
    privacy.register_db(actions)


def run_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    database = Database(settings.database_url, settings.timezone)
    database.upgrade()
    database.dispose()
    print(f"database is up to date ({database.url.render_as_string(hide_password=True)})")
    return 0

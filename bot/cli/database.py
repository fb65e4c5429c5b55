"""`aiusage db upgrade` and `aiusage db prune`."""

from __future__ import annotations

import argparse

from bot.cli import privacy
from bot.cli.context import CliContext


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database maintenance")
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser("upgrade", help="apply schema migrations")
    upgrade.set_defaults(run=run_upgrade)
    privacy.register_db(actions)


def run_upgrade(_args: argparse.Namespace, cli: CliContext) -> int:
    database = cli.services(migrate=True).db
    print(f"database is up to date ({database.url.render_as_string(hide_password=True)})")
    return 0

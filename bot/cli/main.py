"""The `aiusage` command line. Exit codes: 0 done, 1 refused or failed (the database
unavailable or refusing too), 2 bad usage or settings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import nullcontext

from bot.cli import (
    admin,
    audit,
    awards,
    connectors,
    database,
    imports,
    integrations,
    people,
    report,
    serve,
    teams,
)
from bot.cli.context import CliContext
from bot.composition import SchemaBehind
from bot.demo import walkthrough as demo
from bot.services import Clock
from bot.settings import SettingsError, load_settings
from jobs.weeks import utcnow
from storage.days_zone import ZoneMismatch
from storage.db import SchemaTooNew, database_error, database_reason, patient, unavailable

COMMAND_MODULES = (
    serve,
    database,
    integrations,
    awards,
    imports,
    report,
    people,
    connectors,
    teams,
    admin,
    audit,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiusage",
        description="Shows how your company uses AI tools, in Slack.",
        epilog="exit status: 0 done; 1 refused or failed (the database unavailable, an "
        "address `serve` cannot listen on); 2 bad usage or settings",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Clock = utcnow) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"aiusage: {exc}", file=sys.stderr)
        return 2
    cli = CliContext(settings, clock)
    # A command waits for the locks it needs as long as they are held, as psql does: an
    # operator is there to see it wait and to stop it, and a forget or a prune given up
    # after seconds behind a job would only be run again. `serve` answers requests, which
    # give up in seconds (storage/engine.py); its jobs wait (jobs/replicas.py).
    waits = nullcontext() if args.command == "serve" else patient()
    try:
        with waits:
            return int(args.run(args, cli) or 0)
    except SchemaBehind as exc:
        print(f"aiusage: {exc}", file=sys.stderr)
        return 2
    except SchemaTooNew as exc:  # refused by every command, and 1 as `db upgrade` always was
        print(f"aiusage: AIUSAGE_DATABASE_URL: {exc}", file=sys.stderr)
        return 1
    except ZoneMismatch as exc:
        print(f"aiusage: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        away = unavailable(exc)
        if not (away or database_error(exc)):
            raise
        # 1, as for anything that failed (and as the traceback this replaces exited): the
        # same command may succeed once the database is back, so a script or a supervisor
        # retries it; it is no usage error. `serve` stops rather than wait at start, since
        # its supervisor restarts it and a replica that never comes up should be seen.
        # Any other database error (a role without a privilege the command needs, say) is
        # named in a line too: its traceback said no more, and showed the statement.
        reason = database_reason(exc)
        for secret in settings.secret_values():
            reason = reason.replace(secret, "***")
        said = "database unavailable" if away else "database error"
        print(f"aiusage: AIUSAGE_DATABASE_URL: {said}: {reason}", file=sys.stderr)
        return 1
    finally:
        cli.close()


if __name__ == "__main__":
    sys.exit(main())

"""The `aiusage` command line. Exit codes: 0 done, 1 refused or failed, 2 bad usage or settings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.commands import (
    admin,
    audit,
    awards,
    database,
    demo,
    imports,
    integrations,
    people,
    report,
    serve,
    teams,
)
from bot.settings import SettingsError, load_settings

COMMAND_MODULES = (
    serve,
    database,
    integrations,
    awards,
    imports,
    report,
    people,
    teams,
    admin,
    audit,
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiusage", description="Shows how your company uses AI tools, in Slack."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"aiusage: {exc}", file=sys.stderr)
        return 2
    return int(args.run(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())

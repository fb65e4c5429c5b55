"""Command-line subcommands; each module registers its own parser."""

from __future__ import annotations

import getpass


def cli_actor() -> str:
    """Who an operator's command is recorded as in the audit log: the account running it."""
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:  # no name for this uid, as in some containers
        return "cli"

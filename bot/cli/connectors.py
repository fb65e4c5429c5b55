"""`aiusage connectors list` and `aiusage connectors sync NAME|all [--since] [--until]`."""

from __future__ import annotations

import argparse
import gc
import sys
from datetime import date, datetime

from bot.cli.context import CliContext
from bot.cli.terminal import printable
from bot.connectors.registry import NAMES, configured, missing_setting, run_connectors
from storage.connectors import connector_states

EPILOG = """\
connectors: copilot, cursor, claude-code, kiro (each on when its key is set; see README).

sync fetches the vendor's days from --since to --until, both included; by default from the
last day fetched, less AIUSAGE_CONNECTOR_LOOKBACK_DAYS, to yesterday (UTC). --until may not
be later than today. A day fetched again replaces what the connector said of it before.

exit status: 0 every requested connector succeeded; 1 one failed (named on stderr, the
others still ran); 2 unknown or unconfigured connector, or bad dates.
"""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("connectors", help="pull usage from the vendors' admin APIs")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="each connector: on or off, last success, last error, last day fetched"
    )
    listing.set_defaults(run=run_list)
    sync = actions.add_parser(
        "sync",
        help="pull now",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync.add_argument("name", metavar="NAME|all", help="a connector's name, or all")
    sync.add_argument("--since", metavar="DATE", type=_day, help="first day, YYYY-MM-DD")
    sync.add_argument("--until", metavar="DATE", type=_day, help="last day, YYYY-MM-DD")
    sync.set_defaults(run=run_sync)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def run_list(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    states = connector_states(cli.db)
    for name in NAMES:
        off = missing_setting(name, settings)
        state = states.get(name)
        print(f"{name}: {'off (' + off + ')' if off else 'on'}")
        if state is None:
            print("  never run")
            continue
        print(f"  last success: {_when(state.last_success_at)}")
        print(f"  last day fetched: {state.last_day or 'none'}")
        if state.failing:
            print(
                f"  last error ({_when(state.last_error_at)}): {printable(state.last_error or '')}"
            )
        elif state.last_error:
            print(f"  last error (since recovered, {_when(state.last_error_at)}): ok now")
    return 0


def run_sync(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    if args.name == "all":
        names = configured(settings)
        if not names:
            print(
                "aiusage: no connector is configured (see `aiusage connectors list`)",
                file=sys.stderr,
            )
            return 2
    elif args.name not in NAMES:
        print(
            f"aiusage: unknown connector {args.name!r}; use one of {', '.join(NAMES)} or all",
            file=sys.stderr,
        )
        return 2
    else:
        off = missing_setting(args.name, settings)
        if off:
            print(f"aiusage: connector {args.name} is not configured: {off}", file=sys.stderr)
            return 2
        names = [args.name]
    if args.since and args.until and args.since > args.until:
        print("aiusage: --since is after --until", file=sys.stderr)
        return 2
    # Refused rather than cut to today: a day that has not begun cannot be fetched, and a
    # mistyped --until should be seen, not quietly turned into another range.
    today = cli.clock().date()
    if args.until and args.until > today:
        print(
            f"aiusage: --until {args.until} is in the future; the last day a pull can fetch "
            f"is today, {today} (UTC)",
            file=sys.stderr,
        )
        return 2
    # Start-up's objects (modules, settings, the engine) live as long as the process: frozen,
    # the collector's full passes stop walking them while a backfill allocates a day's rows
    # after another (about a tenth of a year's sync went to those passes).
    gc.collect()
    gc.freeze()
    results = run_connectors(settings, cli.db, cli.clock, names, args.since, args.until)
    for result in results:
        empty = result.first is None or result.last is None or result.first > result.last
        span = "nothing new" if empty else f"{result.first} to {result.last}"
        if result.ok:
            rejected = f", {result.rejected} rejected" if result.rejected else ""
            print(f"{result.name}: {result.rows} rows for {result.days} days ({span}){rejected}")
        else:
            error = printable(result.error or "")
            print(f"aiusage: connector {result.name} failed: {error}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1

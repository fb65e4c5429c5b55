"""`aiusage people link IDENTITY USERID`: count a vendor identity's usage as a Slack user's."""

from __future__ import annotations

import argparse
import sys

from bot.cli import cli_actor, privacy
from bot.cli.context import CliContext
from storage import bounds
from storage.admin import record_audit
from storage.people import link_identity

# The identity kinds usage arrives under: emails (API, OTLP, Cursor), GitHub logins
# (Copilot), Kiro's IAM Identity Center user ids, and other OTLP user attributes.
KINDS = {
    "email": "an email address, as the API, OTLP and Cursor's reports give it",
    "copilot": "a GitHub login, as Copilot's reports give it",
    "kiro": "a Kiro UserId from its user-activity reports",
    "claude-code": "an Anthropic API key's name, for Claude Code used with an API key",
    "otlp": "the value of a configured AIUSAGE_OTLP_USER_ATTRIBUTES attribute",
}
EPILOG = "IDENTITY is KIND:VALUE, or a bare email address. Kinds:\n" + "\n".join(
    f"  {kind:<8} {meaning}" for kind, meaning in KINDS.items()
)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("people", help="who is who across tools")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    link = actions.add_parser(
        "link",
        help="link a vendor identity to a Slack user",
        description="Counts a vendor identity's usage, past and future, as this Slack user's.\n"
        "An identity already linked is moved, with its past usage. An email Slack gave to\n"
        "someone new while it counts for someone else is never moved automatically\n"
        "(`aiusage audit` names it): this moves it, once it is known to be theirs.",
        epilog=EPILOG + "\n\nexample: aiusage people link copilot:octocat U012AB3CD",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    link.add_argument("identity", metavar="IDENTITY", help="e.g. copilot:octocat")
    link.add_argument("user_id", metavar="USERID", help="Slack user ID, e.g. U012AB3CD")
    link.set_defaults(run=run_link)
    from bot.cli import people_import  # it builds on this module's identity rules

    people_import.register(actions)

    privacy.register_people(actions)


def parse_identity(text: str) -> tuple[str, str]:
    """(kind, value) from `kind:value` or a bare email; raises ValueError otherwise."""
    kind, sep, value = text.strip().partition(":")
    if not sep:
        if "@" in text:
            return "email", bounds.email(text.strip())
        raise ValueError(f"name the identity's kind, e.g. copilot:{text.strip()}")
    kind, value = kind.lower(), value.strip()
    if kind not in KINDS:
        raise ValueError(f"unknown identity kind {kind!r}; use one of {', '.join(KINDS)}")
    if not value:
        raise ValueError("the identity has no value after the colon")
    if kind == "email":
        return kind, bounds.email(value)
    if kind == "copilot":  # case-insensitive where it comes from
        value = value.lower()
    return kind, bounds.identity(kind, value)


def run_link(args: argparse.Namespace, cli: CliContext) -> int:
    try:
        kind, value = parse_identity(args.identity)
    except ValueError as exc:
        print(f"aiusage: {exc}", file=sys.stderr)
        return 2
    if not bounds.SLACK_USER_ID.fullmatch(args.user_id):
        print(f"aiusage: {args.user_id!r} is not a Slack user ID like U012AB3CD", file=sys.stderr)
        return 2
    db = cli.db
    actor = cli_actor()
    link_identity(db, kind, value, args.user_id, actor, cli.clock())
    record_audit(db, actor, "people.link", "done", cli.clock(), f"{kind}:{value} -> {args.user_id}")
    print(f"Linked {kind}:{value} to {args.user_id}; its usage counts as theirs.")
    return 0

"""`aiusage admin retire|restore|status`: the admin commands for operators' scripts, under the
same rules and audit trail as in Slack."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError

from bot.cli.context import CliContext
from bot.cli.posts import channel_lines
from bot.cli.terminal import printable
from bot.composition import admin_config, in_line_notifier
from bot.settings import Settings
from bot.slack.client import make_web_client
from bot.slack.membership import says_workspace_admin, workspace_of
from bot.slack.rate_limits import rate_limited
from bot.slack.slack_errors import refusal
from bot.slack.viewers import NO_SUCH_USER
from bot.status_sections import Markup, status_sections
from jobs.admin import AdminService
from jobs.admin_rules import (
    Actor,
    AlreadyRetired,
    NotRetired,
    Refused,
    Restored,
    RetireClosed,
    RetireDone,
    StatusReport,
    text_refused,
)
from jobs.results import ChannelResult
from storage.records import LeaderboardState

UTC_ZONE = ZoneInfo("UTC")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("admin", help="retire or restore the leaderboard; status")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    retire = actions.add_parser(
        "retire", help="retire the leaderboard and awards, and post the announcement"
    )
    retire.add_argument("--announcement", required=True, metavar="TEXT")
    retire.add_argument("--by", required=True, metavar="USERID", help="the admin's Slack ID")
    retire.set_defaults(run=run_retire)
    restore = actions.add_parser("restore", help="bring the leaderboard and awards back")
    restore.add_argument("--by", required=True, metavar="USERID", help="the admin's Slack ID")
    restore.add_argument("--note", default="", metavar="TEXT", help="post this note too")
    restore.set_defaults(run=run_restore)
    status = actions.add_parser("status", help="state, schedule, channels, posts, integrations")
    status.add_argument("--by", metavar="USERID", help="the admin's Slack ID (default: operator)")
    status.set_defaults(run=run_status)


def run_retire(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    # Without a bot token the announcement could never be posted later (a retirement is
    # confirmed once), so the command refuses rather than retire silently.
    if settings.award_channels and settings.slack_bot_token is None:
        print("aiusage: SLACK_BOT_TOKEN: needed to post the announcement", file=sys.stderr)
        return 2
    if _refused_text("--announcement", args.announcement):
        return 2
    service = _service(cli)
    actor = _actor(settings, args.by)
    if actor is None:
        return 1
    outcome = service.retire_now(actor, args.announcement)
    match outcome:
        case Refused():
            return _refused(outcome, args.by)
        case AlreadyRetired(state=state) | RetireClosed(state=state):
            already = _by(state, settings.timezone)
            print(f"aiusage: the leaderboard is already retired{already}", file=sys.stderr)
            return 1
        case RetireDone():
            retirement = outcome.retirement
            print(f"Retired the leaderboard (retirement {retirement.id}) as {args.by}.")
            return _print_posts("Announcement", outcome.results, outcome.unposted)


def run_restore(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    if args.note.strip() and settings.award_channels and settings.slack_bot_token is None:
        print("aiusage: SLACK_BOT_TOKEN: needed to post the note", file=sys.stderr)
        return 2
    if _refused_text("--note", args.note):
        return 2
    service = _service(cli)
    actor = _actor(settings, args.by)
    if actor is None:
        return 1
    outcome = service.restore(actor, args.note)
    match outcome:
        case Refused():
            return _refused(outcome, args.by)
        case NotRetired():
            print("aiusage: the leaderboard is not retired; nothing to restore", file=sys.stderr)
            return 1
        case Restored():
            week = outcome.resume_week
            print(f"Restored the leaderboard as {args.by}; awards resume with {week.label}.")
            if not args.note.strip():
                return 0
            return _print_posts("Note", outcome.note_results, outcome.unposted)


def run_status(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    service = _service(cli)
    # Without --by, the operator who holds the database and settings asks; status only reads.
    actor = _actor(settings, args.by) if args.by else Actor("operator", via="cli", operator=True)
    if actor is None:
        return 1
    outcome = service.status(actor)
    if isinstance(outcome, Refused):
        return _refused(outcome, actor.user_id)
    print("\n".join(status_lines(outcome)))
    return 0


def status_lines(report: StatusReport) -> list[str]:
    """The status screen (`bot.status_sections`) as plain text lines, times in the
    configured zone."""
    tz = report.tz
    markup = Markup(
        moment=lambda moment: _time(moment, tz),
        channel=str,
        person=str,
        code=str,
        text=printable,
    )
    lines = []
    for part in status_sections(report, markup):
        lines.append(f"{part.title}: {part.value}".rstrip())
        for item in part.items:
            lines.append(f"  {item.text}")
            lines += [f"    {detail}" for detail in item.details]
    return lines


def _service(cli: CliContext) -> AdminService:
    settings = cli.settings
    # A 429 comes back at once, as in Slack: the post stays owed and `serve` makes it, rather
    # than the operator waiting out up to five Retry-Afters per channel with no word.
    return AdminService(cli.db, admin_config(settings), cli.clock, in_line_notifier(settings))


def _actor(settings: Settings, user_id: str) -> Actor | None:
    """`user_id` as an admin check sees them: Slack is asked whether they are a workspace
    admin or owner only when that counts and a bot token is set. None, said in one line,
    when Slack does not answer it (a 429 is not waited out while the operator watches), or
    refuses our token: a refusal would be audited that the admin never earned."""
    says_admin = False
    if settings.workspace_admins and user_id not in settings.admins and settings.slack_bot_token:
        web = make_web_client(settings, wait_out_rate_limits=False)
        method = "auth.test"
        try:
            # Only an admin of the workspace the bot token belongs to is one here.
            said = web.auth_test()
            ours = workspace_of({key: said.get(key) for key in ("team_id", "enterprise_id")})
            method = "users.info"
            user = web.users_info(user=user_id)["user"]
            says_admin = ours is not None and says_workspace_admin(user, ours)
        except SlackApiError as exc:
            # Not a refusal: with no answer the audit would record one the admin never earned.
            if rate_limited(exc):
                print(
                    f"aiusage: Slack is rate-limiting {method} just now, so whether {user_id} "
                    "is a workspace admin is not known; run it again shortly. Nothing was "
                    "changed.",
                    file=sys.stderr,
                )
                return None
            if method == "auth.test" or exc.response.get("error") not in NO_SUCH_USER:
                # Nor is our token refused or a 5xx a word on them: no refusal, as for a 429.
                _not_said(user_id, f"{method}: {refusal(exc, 'users:read')}")
                return None
        except OSError as exc:
            _not_said(user_id, f"{method}: {exc!r}")
            return None
    return Actor(user_id, slack_says_admin=says_admin, via="cli")


def _not_said(user_id: str, why: str) -> None:
    print(
        f"aiusage: Slack could not say whether {user_id} is a workspace admin ({why}); "
        "run it again once Slack answers. Nothing was changed.",
        file=sys.stderr,
    )


def _refused_text(option: str, text: str) -> bool:
    """Whether the text breaks the rule `/aiusage retire|restore` keeps (said in one line,
    before anything is changed or asked of Slack)."""
    refused = text_refused(text)
    if refused is not None:
        print(f"aiusage: {option}: {refused.line}. Nothing was changed.", file=sys.stderr)
    return refused is not None


def _refused(outcome: Refused, user_id: str) -> int:
    who = _MENTION.sub(lambda m: m[1], outcome.who_can)
    print(
        f"aiusage: admin {outcome.command}: {user_id} is not an admin; admin commands are for "
        f"{who}. Nothing was changed.",
        file=sys.stderr,
    )
    return 1


def _print_posts(what: str, results: Sequence[ChannelResult], unposted: str | None) -> int:
    if unposted:
        print(f"{what} not posted: {unposted}")
        return 0
    print(f"{what}:")
    print("\n".join(channel_lines(results)))
    return 0 if all(r.ok for r in results) else 1


def _by(state: LeaderboardState, tz: ZoneInfo = UTC_ZONE) -> str:
    parts = []
    if state.changed_at is not None:
        parts.append(f"since {_time(state.changed_at, tz)}")
    if state.changed_by:
        parts.append(f"by {state.changed_by}")
    return (" " + " ".join(parts)) if parts else ""


def _time(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key})"

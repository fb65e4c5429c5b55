"""`aiusage awards preview|post [--week YYYY-Www]`."""

from __future__ import annotations

import argparse
import sys

from bot.cli.context import CliContext
from bot.cli.posts import channel_lines
from bot.cli.privacy import print_edits
from bot.cli.terminal import printable
from bot.composition import award_config, in_line_notifier
from bot.slack.views.award_post import award_text
from jobs.award_rules import build_post
from jobs.awards import decide_week, post_week, public_awards
from jobs.privacy import edit_owed_award_posts
from jobs.weeks import Week, last_complete_week, parse_week


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("awards", help="the weekly badge awards")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    preview = actions.add_parser(
        "preview", help="print the award post (and integrity flags); posts nothing"
    )
    post = actions.add_parser("post", help="post a week's awards now, once per channel")
    for sub in (preview, post):
        sub.add_argument("--week", help="ISO week YYYY-Www (default: the last complete week)")
    preview.set_defaults(run=run_preview)
    post.set_defaults(run=run_post)


def _week(args: argparse.Namespace, cli: CliContext) -> Week:
    settings = cli.settings
    if args.week:
        return parse_week(args.week)
    return last_complete_week(cli.clock(), settings.timezone)


def run_preview(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    try:
        week = _week(args, cli)
    except ValueError as exc:
        print(f"aiusage: --week: {exc}", file=sys.stderr)
        return 2
    db = cli.db
    config = award_config(settings)
    decision = decide_week(db, week, config, cli.clock(), store=False)
    state = "as stored" if decision.stored else "not decided yet; as they would be now"
    print(f"Awards for {week.label} ({state}):")
    print()
    awards = public_awards(db, decision.awards)
    if awards:
        text = award_text(build_post(week.label, week.start, week.end, awards, config.rules))
        print("\n".join(printable(line) for line in text.splitlines()))
    else:
        print("Nobody met the badge thresholds; nothing would be posted.")
    print()
    if not decision.flags:
        print("Integrity flags: none (admins only; never posted)")
    else:
        print(f"Integrity flags ({len(decision.flags)}; admins only, never posted):")
        for flag in decision.flags:
            # A name is what Slack answered for the person (their ID) or their email: the
            # terminal gets no control character from it.
            who = decision.names.get(flag.person_id) or f"person {flag.person_id}"
            print(printable(f"  {who}  {flag.signal}: {flag.detail}"))
    return 0


def run_post(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    try:
        week = _week(args, cli)
    except ValueError as exc:
        print(f"aiusage: --week: {exc}", file=sys.stderr)
        return 2
    # A 429 comes back at once, as in Slack: the post stays owed and `serve` makes it, rather
    # than the operator waiting out up to five Retry-Afters per channel.
    notifier = in_line_notifier(settings)
    if notifier is None:
        print("aiusage: SLACK_BOT_TOKEN: needed to post awards", file=sys.stderr)
        return 2
    db = cli.db
    config = award_config(settings)
    report = post_week(db, notifier, config, week, cli.clock)
    if report.refused:
        print(f"aiusage: {week.label}: {report.refused}", file=sys.stderr)
    else:
        print(f"Awards for {week.label}: {report.winners} badge(s)")
    if report.results:
        print("\n".join(channel_lines(report.results)))
    # A post found or made just now may be what an edit owed since a forget waits on.
    edits = edit_owed_award_posts(
        db, notifier, config.rules, cli.clock(), config.posting, due_only=False
    )
    if edits.edited or edits.failed or edits.waiting:
        print_edits(edits)
    return 0 if not report.refused and all(r.ok for r in report.results) else 1

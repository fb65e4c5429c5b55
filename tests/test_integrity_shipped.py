"""Integrity signals on shipped work: commits and pull requests implausible for the AI use
behind them, or shipped at a machine's steady quota. The pure rules, then the real award
job, which keeps such a week from the "Shipped it" badge and lists the flag for admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from bot.cli.main import main
from jobs.integrity import (
    SHIPPED_CADENCE,
    SHIPPED_UNBACKED,
    Activity,
    IntegrityRules,
    integrity_flags,
    shipped_cadence,
    shipped_without_usage,
)
from storage.events import record_events
from storage.integrations import create_integration
from storage.precedence import OTLP_ORIGIN
from storage.records import Totals, UsageEvent, UserRef

RULES = IntegrityRules()
MONDAY = datetime(2026, 11, 9, tzinfo=UTC)  # the last complete week at the `now` fixture


def test_shipped_work_on_too_few_tokens_is_flagged():
    assert (
        shipped_without_usage(Totals(input_tokens=9_000, commits=10, pull_requests=2), RULES)
        == "12 commits and pull requests on 9,000 tokens"
    )


def test_shipped_work_backed_by_enough_tokens_or_too_little_of_it_is_not():
    assert shipped_without_usage(Totals(input_tokens=12_000, commits=12), RULES) is None
    assert shipped_without_usage(Totals(input_tokens=0, commits=9), RULES) is None
    assert shipped_without_usage(Totals(input_tokens=10**6), RULES) is None  # none reported


def test_the_same_count_every_day_is_a_quota():
    assert (
        shipped_cadence([5, 5, 5, 5], RULES)
        == "exactly 5 commits and pull requests on each of 4 days"
    )
    assert shipped_cadence([0, 4, 4, 0, 4, 4], RULES) is not None  # days without any aside


def test_human_shipping_is_uneven_small_or_short():
    assert shipped_cadence([5, 4, 5, 5], RULES) is None
    assert shipped_cadence([5, 5, 5], RULES) is None  # too few days to say
    assert shipped_cadence([2, 2, 2, 2, 2], RULES) is None  # a commit or two a day is common
    assert shipped_cadence([], RULES) is None


def test_flags_gather_the_shipped_signals():
    activity = Activity(
        1, [], [], Totals(input_tokens=1_000, commits=24), shipped_days=[6, 6, 6, 6]
    )
    flags = integrity_flags(activity, MONDAY.date(), UTC, RULES)  # type: ignore[arg-type]
    assert {flag.signal for flag in flags} == {SHIPPED_UNBACKED, SHIPPED_CADENCE}


# --- through the real award job ------------------------------------------------------------


def usage(user: str, day: int, n: int, **figures) -> UsageEvent:
    return UsageEvent(
        event_id=f"{user}-{n}",
        user=UserRef(slack_user_id=user),
        occurred_at=MONDAY + timedelta(days=day, hours=11),
        tool="claude-code",
        kind="agent",
        **figures,
    )


def test_flagged_shipped_work_wins_no_badge_and_is_shown_to_admins(db, now, capsys):
    integration, _ = create_integration(db, "claude-code", now)
    events = []
    # the week before: everyone's baseline, which the badge asks for
    for user in ("UALICE", "UCAROL", "UEVE", "UFRANK"):
        events.append(usage(user, -5, 99, input_tokens=10))
    # Alice uses AI every weekday, shipping nothing: the steadiest, so Carol's badge is hers
    # (a few requests a day: five bare ones would be less than the week of use badges ask for)
    events += [usage("UALICE", day, day, requests=5, input_tokens=1_000) for day in range(5)]
    # Carol ships a little, unevenly, with plenty of AI use behind it
    events += [
        usage("UCAROL", day, day, input_tokens=10_000, commits=commits)
        for day, commits in enumerate([2, 3, 2])
    ]
    # Eve's counts are far beyond her 30,000 tokens: 45 shipped on three days
    events += [usage("UEVE", day, day, input_tokens=10_000, commits=15) for day in range(3)]
    record_events(db, integration.id, events, now)
    # Frank's telemetry ships exactly 5 a day, every day, however much he uses
    frank = [usage("UFRANK", day, day, input_tokens=50_000 + day, commits=5) for day in range(4)]
    record_events(db, integration.id, frank, now, OTLP_ORIGIN)

    with freeze_time("2026-11-18 12:00:00"):
        assert main(["awards", "preview"]) == 0
    out = capsys.readouterr().out
    assert ":package: *Shipped it*: <@UCAROL> (7 commits and 0 pull requests" in out
    assert "UEVE  shipped_without_usage: 45 commits and pull requests on 30,000 tokens" in out
    assert "UFRANK  shipped_cadence: exactly 5 commits and pull requests on each of 4 days" in out
    post = out.split("Integrity flags")[0]
    assert "UEVE" not in post and "UFRANK" not in post

"""Who is an admin, the default announcement, and the week awards resume with."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from jobs.admin import resume_week
from jobs.admin_rules import DEFAULT_ANNOUNCEMENT, announcement_or_default, is_admin, who_can


@pytest.mark.parametrize(
    ("user", "workspace_admins", "slack_says", "expected"),
    [
        ("UADMIN", True, False, True),  # listed
        ("UADMIN", False, False, True),  # listed, whatever Slack says
        ("UOWNER", True, True, True),  # a workspace admin or owner
        ("UOWNER", False, True, False),  # ... unless they do not count
        ("UALICE", True, False, False),
    ],
)
def test_is_admin(user, workspace_admins, slack_says, expected):
    assert is_admin(user, ("UADMIN", "UOTHER"), workspace_admins, slack_says) is expected


def test_who_can_names_the_listed_admins_and_says_when_nobody_can():
    assert who_can(("U1",), True) == (
        "the admins listed in AIUSAGE_ADMINS (<@U1>) and Slack workspace admins and owners"
    )
    assert who_can(tuple(f"U{i}" for i in range(7)), False).endswith("<@U4>, 2 more)")
    assert who_can((), False).startswith("nobody yet")


def test_an_empty_announcement_is_the_default():
    assert announcement_or_default("  \n ") == DEFAULT_ANNOUNCEMENT
    assert announcement_or_default(" Bye. ") == "Bye."


@pytest.mark.parametrize(
    ("restored_at", "week"),
    [
        # Wednesday: the next run (Monday 23rd) awards the week of the 16th.
        (datetime(2026, 11, 18, 12, 0, tzinfo=UTC), "2026-W47"),
        # Monday before 09:00: today's run still comes, and awards last week.
        (datetime(2026, 11, 23, 8, 59, tzinfo=UTC), "2026-W47"),
        # Monday after 09:00: that run has gone; the next awards this week.
        (datetime(2026, 11, 23, 9, 1, tzinfo=UTC), "2026-W48"),
    ],
)
def test_awards_resume_with_the_week_the_next_run_awards(restored_at, week):
    assert resume_week("0 9 * * mon", ZoneInfo("UTC"), restored_at).label == week

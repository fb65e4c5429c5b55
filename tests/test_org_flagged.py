"""`/aiusage org [TEAM]`'s line on usage judged scripted or wasteful, through signed
commands into the real endpoint: a count and shares of tokens only of groups of at least
the minimum, flagged or not, in the organisation's view and in a team's beside it. The week
and teams are `tests/test_org_slack.py`'s: 17 people, 15,950 tokens; platform is UA1..UA6,
1,100 tokens each."""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert

from storage.models import IntegrityFlagRow
from tests.slack_command_helpers import text_of
from tests.test_org_slack import (  # noqa: F401 (fixtures)
    SET_ASIDE,
    callers,
    db_select_person,
    slack_settings,
    usage,
)


def flag(db, now, *users: str) -> None:
    """The hourly scan judged these people's week 2026-W47 scripted."""
    with db.write() as conn:
        for user in users:
            person = conn.execute(db_select_person(user)).scalar_one()
            conn.execute(
                insert(IntegrityFlagRow).values(
                    person_id=person, week_start=date(2026, 11, 16), signal="burst",
                    detail=f"{user} sent 900 requests in a minute", computed_at=now,
                )
            )  # fmt: skip


def flagged_line(slack, text: str = "org") -> str:
    reply = text_of(slack.ask(text, user_id="UVIEW"))
    [line] = [line for line in reply.splitlines() if "scripted or wasteful" in line]
    return line


def test_five_flagged_among_seventeen_get_a_count_and_shares(slack, usage, db, now):  # noqa: F811
    flag(db, now, "UA1", "UA2", "UA3", "UA4", "UA5")
    assert flagged_line(slack) == (
        "Usage judged scripted or wasteful: 5 people's (29% of people with usage, 34% of "
        "tokens). Not ranked, not named."
    )


def test_a_team_all_but_one_flagged_gets_no_share_of_tokens(slack, usage, db, now):  # noqa: F811
    """Platform's tokens less five flagged people's share of them would be UA6's."""
    flag(db, now, "UA1", "UA2", "UA3", "UA4", "UA5")
    assert flagged_line(slack, "org platform") == (
        "Usage judged scripted or wasteful: 5 people's (83% of people with usage; no share "
        "of tokens, as it would describe fewer than 5 people). Not ranked, not named."
    )


def test_a_team_flagged_but_for_one_outside_it_gets_no_figure(slack, usage, db, now):  # noqa: F811
    """Six flagged in the organisation, five of them in platform: the organisation's figures
    minus platform's would be the one outside it, UD1."""
    flag(db, now, "UA1", "UA2", "UA3", "UA4", "UA5", "UD1")
    assert flagged_line(slack).startswith("Usage judged scripted or wasteful: 6 people's")
    assert flagged_line(slack, "org platform") == SET_ASIDE

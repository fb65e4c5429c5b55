"""The connectors keep the bounds every door keeps (storage/bounds.py), as `aiusage import`
does: a record naming a person no column holds, or a day outside the calendar, is rejected
by its number and the rest stored. Through the real command line and the fake vendors, on
both databases (PostgreSQL's columns are where an unbounded value used to fail the sync)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.connectors.copilot import CHILD_DAYS
from bot.connectors.registry import run_connectors
from bot.settings import load_settings
from storage.connectors import connector_states, copilot_teams
from tests.connector_helpers import claude_record, copilot_record, figures

D1 = date(2026, 11, 16)


@pytest.mark.postgres
def test_copilot_logins_past_the_bounds_are_rejected_and_the_day_stored(run, db, github):
    github.users = {
        D1: [
            [
                copilot_record("a" * 400, D1),  # identities hold 320 characters
                copilot_record("bell\u0007", D1),  # a control character
                copilot_record("good", D1),
            ]
        ]
    }
    code, out, err = run("connectors", "sync", "copilot", "--since", D1, "--until", D1)
    assert (code, err) == (0, ""), err
    assert "copilot: 1 rows for 1 days (2026-11-16 to 2026-11-16), 2 rejected" in out
    assert list(figures(db, D1, D1)) == [("copilot:good", "copilot")]
    # the day is fetched whole, so the next pull moves on instead of failing on it again
    assert connector_states(db)["copilot"].last_day == D1


@pytest.mark.postgres
def test_claude_code_emails_and_key_names_past_the_bounds_are_rejected(run, db, anthropic):
    anthropic.records = {
        D1: [
            claude_record("<!channel> x@y z\u0007", D1),
            claude_record("x" * 330 + "@example.com", D1),
            {
                **claude_record("unused@example.com", D1),
                "actor": {"type": "api_actor", "api_key_name": "k" * 400},
            },
            claude_record("ok@example.com", D1),
        ]
    }
    code, out, err = run("connectors", "sync", "claude-code", "--since", D1, "--until", D1)
    assert (code, err) == (0, ""), err
    assert "claude-code: 1 rows for 1 days" in out and "3 rejected" in out
    assert list(figures(db, D1, D1)) == [("ok@example.com", "claude-code")]


@pytest.mark.postgres
def test_copilot_team_names_and_logins_past_the_columns_are_left_out(run, db, github):
    github.users = {D1: [[copilot_record("good", D1)]]}

    def member(login: str, slug: str) -> dict:
        return {"user_login": login, "day": D1.isoformat(), "team_id": 1, "slug": slug}

    github.teams = {
        D1: [
            member("good", "t" * 300),  # teams.name and the memberships hold 255
            member("good", "tab\tin-it"),
            member("l" * 300, "web"),
            member("good", "web"),
        ]
    }
    code, out, err = run("connectors", "sync", "copilot", "--since", D1, "--until", D1)
    assert (code, err) == (0, ""), err
    assert "copilot: 1 rows for 1 days" in out
    assert ("copilot:good", "copilot") in figures(db, D1, D1)
    assert copilot_teams(db) == {"web": ["good"]}


@pytest.mark.postgres
def test_a_backfill_fetched_in_a_child_process_keeps_the_bounds_too(run, db, github):
    days = [D1 + timedelta(days=n) for n in range(CHILD_DAYS)]
    github.users = {day: [[copilot_record("good", day)]] for day in days}
    github.users[days[2]][0].append(copilot_record("a" * 400, days[2]))
    code, out, err = run("connectors", "sync", "copilot", "--since", days[0], "--until", days[-1])
    assert (code, err) == (0, ""), err
    assert f"copilot: {CHILD_DAYS} rows for {CHILD_DAYS} days" in out and "1 rejected" in out
    assert list(figures(db, days[0], days[-1])) == [("copilot:good", "copilot")]


@pytest.mark.postgres
def test_copilot_keeps_only_the_day_it_asked_for(run, db, github):
    # A day's report holding records of other days: far ones (which once made the weekly
    # rollup's job fail for good) and a near one alike, as the other connectors leave out
    # days they did not ask for. The day asked for is stored and recorded as fetched.
    def on(day: str) -> dict:
        return {**copilot_record("octo", D1), "day": day}

    github.users = {D1: [[on("9999-12-31"), on("1970-01-01"), on("2026-11-15"), on(str(D1))]]}
    code, out, err = run("connectors", "sync", "copilot", "--since", D1, "--until", D1)
    assert (code, err) == (0, ""), err
    assert "copilot: 1 rows for 1 days" in out
    assert figures(db, date.min, date.max) == figures(db, D1, D1)
    assert list(figures(db, D1, D1)) == [("copilot:octo", "copilot")]
    assert connector_states(db)["copilot"].last_day == D1


@pytest.mark.postgres
def test_a_future_until_is_refused_and_never_recorded_as_fetched(run, db, anthropic):
    today = datetime.now(UTC).date()
    later = today + timedelta(days=20)  # a month typed for a day, say
    code, out, err = run(
        "connectors", "sync", "claude-code", "--since", today - timedelta(days=1), "--until", later
    )
    assert (code, out) == (2, "")
    assert err == (
        f"aiusage: --until {later} is in the future; the last day a pull can fetch is "
        f"today, {today} (UTC)\n"
    )
    assert anthropic.calls == [] and "claude-code" not in connector_states(db)

    # A caller of the job itself passing such a day: its range ends today.
    now = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=6)
    settings = load_settings()
    [result] = run_connectors(settings, db, lambda: now, ["claude-code"], today, later)
    assert result.ok and (result.first, result.last) == (today, today)
    assert connector_states(db)["claude-code"].last_day == today

    # So the next day's scheduled pull still fetches the days since, today included.
    anthropic.records = {today: [claude_record("dev@example.com", today)]}
    tomorrow = now + timedelta(days=1)
    [result] = run_connectors(settings, db, lambda: tomorrow, ["claude-code"])
    assert result.ok and result.last == today
    assert ("dev@example.com", "claude-code") in figures(db, today, today)

"""`/aiusage` end to end: signed requests into the real endpoint, replies read from the HTTP
response or from what the app posted to the fake Slack."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from bot.composition import build_services, create_http_app
from storage.awards import store_awards
from storage.models import IntegrityFlagRow
from storage.profiles import find_slack_profile
from storage.records import NewAward
from tests.builders import bearer, event
from tests.slack_fixtures import SlackDriver

# `now` is Wednesday 2026-11-18 12:00 UTC: week 2026-W47 runs Mon 16 to Sun 22 November.
THIS_MONDAY = "2026-11-16"
LAST_MONDAY = "2026-11-09"


def ingest(slack, api_key, *events):
    response = slack.http.post(
        "/api/v1/events", json={"events": list(events)}, headers=bearer(api_key)
    )
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text
    return response.json()


def used(user, day, hour="10", **fields):
    """An event for a Slack user at `hour`:00 UTC on `day`."""
    fields.setdefault("input_tokens", 0)
    fields.setdefault("output_tokens", 0)
    return event(user={"slack_user_id": user}, occurred_at=f"{day}T{hour}:00:00Z", **fields)


def worked(user, day, hour="10", **fields):
    """`used` with 20 requests unless told: a week of real use in one event, the least
    `top` ranks (the badges' `min_work`), so a board test is about its own point."""
    fields.setdefault("requests", 20)
    return used(user, day, hour, **fields)


def text_of(reply) -> str:
    """All the mrkdwn and plain text a reply's blocks show."""
    parts = []
    for block in reply["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element.get("text", "")  # buttons carry a plain-text object
            parts.append(text["text"] if isinstance(text, dict) else text)
    return "\n".join(parts)


# -- first sight, time zones, help -----------------------------------------------------------


def test_first_sight_asks_slack_who_it_is_then_answers_through_response_url(slack):
    response = slack.command("help", response_url="first")
    assert response.status_code == 200
    assert response.content == b""  # acknowledged at once, answered after users.info
    [posted] = slack.fake.wait_for("response_url")
    assert posted.path == "/response/first"
    assert posted.params["response_type"] == "ephemeral"
    assert "/aiusage top" in text_of(posted.params)
    assert [c.params["user"] for c in slack.fake.calls_to("users.info")] == ["UALICE"]

    again = slack.command("help")
    assert again.json()["response_type"] == "ephemeral"  # known now: answered in the ack
    assert len(slack.fake.calls_to("users.info")) == 1  # and not asked again
    profile = find_slack_profile(slack.services.db, "UALICE")
    assert (profile.tz, profile.display_name) == ("Europe/Berlin", "alice")


def test_times_are_shown_in_the_viewers_own_zone(slack):
    # 12:00 UTC is 13:00 in Berlin and 07:00 in New York.
    assert "13:00 your time (Europe/Berlin)" in text_of(slack.ask("me", user_id="UALICE"))
    assert "07:00 your time (America/New_York)" in text_of(slack.ask("me", user_id="UBOB"))


def test_a_profile_a_day_old_is_asked_for_again(slack, now):
    slack.ask("help")
    slack.move_to(datetime(2026, 11, 19, 12, 30, tzinfo=UTC))
    slack.ask("help")
    assert len(slack.fake.calls_to("users.info")) == 2


def test_help_lists_every_subcommand_and_the_admin_ones(slack):
    reply = slack.ask("help")
    text = text_of(reply)
    for sub in ("me", "top", "badges", "optout", "optin", "help"):
        assert f"`/aiusage {sub}" in text
    assert "*Admin commands*" in text
    assert "`/aiusage retire &lt;announcement&gt;`" in text
    assert "`/aiusage restore [note]`" in text and "`/aiusage status`" in text
    assert reply["text"].startswith("/aiusage shows how you use AI tools")


def test_unknown_text_gets_help_naming_what_was_not_understood(slack):
    text = text_of(slack.ask("leaderboard please"))
    assert "I don't know “leaderboard please”" in text
    assert "`/aiusage me`" in text


def test_hostile_text_is_escaped_and_never_pings_anyone(slack):
    reply = slack.ask("<!channel> <@UBOB> & <https://evil.example|click>")
    text = text_of(reply) + reply["text"]
    assert "<!channel>" not in text and "<@UBOB>" not in text and "<https" not in text
    assert "&lt;!channel&gt; &lt;@UBOB&gt; &amp; &lt;https://evil.example|click&gt;" in text


def test_control_characters_and_very_long_input_get_help_not_an_error(slack):
    for text in ("me\x00", "top\x1b[31m", "x" * 5000, "\u202eme"):
        reply = slack.ask(text)
        assert "`/aiusage me`" in text_of(reply), text
        assert "\x00" not in text_of(reply) and "\x1b" not in text_of(reply)
        assert len(text_of(reply)) < 3000


# -- me -------------------------------------------------------------------------------------


def test_me_without_usage_explains_how_usage_arrives(slack):
    text = text_of(slack.ask("me"))
    assert "No AI usage has been recorded for you" in text
    assert "email address on your Slack profile" in text


def test_empty_text_is_me(slack):
    assert text_of(slack.ask("")) == text_of(slack.ask("me"))


def test_me_compares_this_week_with_the_same_days_last_week_by_tool(slack, api_key):
    ingest(
        slack,
        api_key,
        # This week: Monday and Wednesday, two tools.
        used(
            "UALICE",
            THIS_MONDAY,
            input_tokens=1_200_000,
            output_tokens=34_567,
            cost_usd=1.5,
            suggestions_shown=40,
            suggestions_accepted=10,
            tool="copilot",
            requests=1200,
        ),
        used(
            "UALICE",
            "2026-11-18",
            input_tokens=1000,
            output_tokens=500,
            tool="claude-code",
            requests=3,
            cost_usd=0.25,
        ),
        # Last week: Monday (same days) and Friday (after "today"'s weekday).
        used(
            "UALICE",
            LAST_MONDAY,
            input_tokens=10,
            output_tokens=5,
            tool="copilot",
            suggestions_shown=10,
            suggestions_accepted=5,
            requests=7,
        ),
        used("UALICE", "2026-11-13", tool="copilot", requests=100),
        # Three weeks ago, for the trend.
        used("UALICE", "2026-10-28", tool="copilot", requests=600),
        # Someone else's usage is not Alice's.
        used("UBOB", THIS_MONDAY, tool="copilot", requests=999_999),
    )
    reply = slack.ask("me")
    text = text_of(reply)
    assert "Your AI usage, week 2026-W47" in text
    assert (
        "Mon 16 Nov to today (Wed 18 Nov), against the same days last week "
        "(Mon 9 Nov to Wed 11 Nov)" in text
    )
    assert "*Requests:* 1,203  (last week: 7)" in text
    assert "*Tokens:* 1,236,067 (1,201,000 in, 35,067 out)  (last week: 15 (10 in, 5 out))" in text
    assert "*Accepted suggestions:* 10 of 40 (25%)  (last week: 5 of 10 (50%))" in text
    assert "*Active days:* 2  (last week: 1)" in text
    assert "*Estimated cost:* $1.75  (last week: not reported)" in text
    assert (
        "• copilot: 1,200 requests, 1,234,567 tokens, 10 accepted, $1.50, last week 107 requests"
        in text
    )
    assert "• claude-code: 3 requests, 1,500 tokens, $0.25, last week 0 requests" in text
    # Weeks W40..W47: W44 had 600, W46 had 107 in full, W47 so far 1,203.
    assert "`▁▁▁▁▄▁▂█`" in text
    assert "last week in full: 107" in text
    assert reply["text"].startswith(
        "Your AI usage, week 2026-W47: 1,203 requests, 1,236,067 tokens"
    )
    assert "Shipped with AI" not in text  # no tool of hers reports commits


def test_me_shows_shipped_work_where_a_tool_reports_it(slack, api_key):
    ingest(
        slack,
        api_key,
        used("UALICE", THIS_MONDAY, tool="claude-code", commits=3, pull_requests=1),
        used("UALICE", "2026-11-17", tool="claude-code", commits=2),
        used("UALICE", THIS_MONDAY, tool="copilot", requests=5),
        used("UALICE", LAST_MONDAY, tool="claude-code", commits=0, pull_requests=0),
    )
    text = text_of(slack.ask("me"))
    assert (
        "*Shipped with AI:* 5 commits, 1 pull request  (last week: 0 commits, 0 pull requests)"
        in text
    )
    assert "• claude-code: 2 requests, 0 tokens, 5 commits, 1 pull request, last week" in text
    assert "• copilot: 5 requests, 0 tokens, last week 0 requests" in text


def test_me_shows_the_callers_badges(slack, api_key, db, now):
    ingest(slack, api_key, used("UALICE", THIS_MONDAY))
    person = find_slack_profile(db, "UALICE").person_id
    store_awards(
        db, date(2026, 11, 9), [NewAward(person, "steady", "Active every working day")], now
    )
    text = text_of(slack.ask("me"))
    assert (
        "• *:calendar: Steady hand*, week 2026-W46 (Mon 9 Nov to Sun 15 Nov): "
        "Active every working day" in text
    )


# -- badges ---------------------------------------------------------------------------------


def test_badges_lists_awards_newest_first(slack, db, now):
    slack.ask("help")  # Alice exists
    person = find_slack_profile(db, "UALICE").person_id
    store_awards(
        db, date(2026, 10, 26), [NewAward(person, "first_steps", "First week <b>& more</b>")], now
    )
    store_awards(db, date(2026, 11, 9), [NewAward(person, "steady", "Active every day")], now)
    text = text_of(slack.ask("badges"))
    # A configured badge is named as configured; one no longer configured still reads well.
    assert text.index(":calendar: Steady hand") < text.index("First steps")
    assert "First week &lt;b&gt;&amp; more&lt;/b&gt;" in text
    assert "*2 so far, newest first*" in text


def test_badges_without_any(slack):
    assert "*Badges:* none yet." in text_of(slack.ask("badges"))


# -- top ------------------------------------------------------------------------------------


def test_top_ranks_steady_accepted_use_not_token_volume(slack, api_key):
    ingest(
        slack,
        api_key,
        # Bob: one day, enormous volume.
        worked("UBOB", THIS_MONDAY, input_tokens=50_000_000, requests=5000),
        # Alice: three days, no suggestion data at all.
        *[worked("UALICE", day) for day in ("2026-11-16", "2026-11-17", "2026-11-18")],
        # Carol: three days and accepted suggestions, so above Alice.
        *[
            worked("UCAROL", day, suggestions_shown=10, suggestions_accepted=4)
            for day in ("2026-11-16", "2026-11-17", "2026-11-18")
        ],
        # Last week's usage does not count this week.
        *[worked("UDAN", f"2026-11-{d:02d}") for d in (9, 10, 11, 12, 13)],
    )
    reply = slack.ask("top", user_id="UALICE")
    text = text_of(reply)
    lines = [line for line in text.splitlines() if re.match(r"\d+\. ", line)]
    assert lines == [
        "1. <@UCAROL>: 3 active days, 12 accepted suggestions (40% accepted)",
        "2. <@UALICE>: 3 active days, 0 accepted suggestions (n/a accepted)",
        "3. <@UBOB>: 1 active day, 0 accepted suggestions (n/a accepted)",
    ]
    assert "*Your place:* 2 of 3." in text
    assert "Ranked by active days this week, then accepted suggestions" in text
    assert "Never by tokens" in text


def test_ties_share_a_place(slack, api_key):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY), worked("UBOB", THIS_MONDAY))
    text = text_of(slack.ask("top"))
    assert "1. <@UALICE>" in text and "1. <@UBOB>" in text


def test_top_shows_ten(slack, api_key):
    ingest(slack, api_key, *[worked(f"UPERSON{i:02d}", THIS_MONDAY) for i in range(25)])
    slack.fake.add_user("UPERSON20")
    text = text_of(slack.ask("top", user_id="UPERSON20"))
    assert len(re.findall(r"<@UPERSON\d\d>", text)) == 10
    assert "*Your place:* 1 of 25." in text


def test_opted_out_people_are_never_shown_and_can_rejoin(slack, api_key):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY), worked("UBOB", THIS_MONDAY, requests=50))
    assert "You are off the public leaderboard" in text_of(slack.ask("optout", user_id="UBOB"))

    seen_by_alice = slack.ask("top", user_id="UALICE")
    assert "UBOB" not in str(seen_by_alice)
    assert "*Your place:* 1 of 1." in text_of(seen_by_alice)
    assert "you opted out" in text_of(slack.ask("top", user_id="UBOB"))
    assert "*Requests:* 50" in text_of(slack.ask("me", user_id="UBOB"))  # still sees their own

    assert "back on the leaderboard" in text_of(slack.ask("optin", user_id="UBOB"))
    assert "<@UBOB>" in text_of(slack.ask("top", user_id="UALICE"))


def test_usage_flagged_for_the_week_is_not_ranked_and_nobody_is_told_why(slack, api_key, db, now):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY), worked("UBOB", THIS_MONDAY))
    bob = find_slack_profile(db, "UBOB").person_id
    with db.write() as conn:
        conn.execute(
            insert(IntegrityFlagRow).values(
                person_id=bob,
                week_start=date(2026, 11, 16),
                signal="scripted",
                detail="identical prompts at fixed intervals",
                computed_at=now,
            )
        )
    seen_by_alice = str(slack.ask("top", user_id="UALICE"))
    assert "UBOB" not in seen_by_alice and "scripted" not in seen_by_alice
    own = text_of(slack.ask("top", user_id="UBOB"))
    assert "*Your place:* you are not ranked this week." in own
    assert "scripted" not in own and "identical" not in own


def test_scripted_usage_is_never_ranked_even_before_the_hourly_scan(slack, api_key):
    # Forty requests exactly a minute apart: a loop, not a person. No scan has run, so
    # nothing is stored about the week; the board judges it as the awards would.
    loop = [
        event(
            user={"slack_user_id": "UBOT"},
            occurred_at=f"{THIS_MONDAY}T09:{minute:02d}:00Z",
            input_tokens=0,
            output_tokens=0,
        )
        for minute in range(40)
    ]
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY), *loop)
    slack.fake.add_user("UBOT")  # a person of ours who runs a loop, not a Slack bot
    seen_by_alice = text_of(slack.ask("top", user_id="UALICE"))
    assert "<@UALICE>" in seen_by_alice and "UBOT" not in seen_by_alice
    assert "*Your place:* you are not ranked this week." in text_of(
        slack.ask("top", user_id="UBOT")
    )


def test_new_usage_shows_up_in_top_within_seconds(slack, api_key, now):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY))
    assert "<@UBOB>" not in text_of(slack.ask("top"))
    ingest(slack, api_key, worked("UBOB", THIS_MONDAY))
    assert "<@UBOB>" not in text_of(slack.ask("top"))  # the cached board, seconds old
    # Once the board is a few seconds old, the next `top` starts a refresh in the
    # background and serves the old board meanwhile; the ones after show the new usage.
    slack.move_to(now + timedelta(seconds=6))
    deadline = time.monotonic() + 5
    while "<@UBOB>" not in text_of(slack.ask("top")):
        assert time.monotonic() < deadline, "new usage never reached the leaderboard"
        time.sleep(0.05)


def test_top_before_anyone_has_usage(slack):
    text = text_of(slack.ask("top"))
    assert "Nobody is on the board yet this week." in text
    assert "*Your place:* not on the board yet this week." in text


def _top_lines(slack, user_id="UALICE"):
    text = text_of(slack.ask("top", user_id=user_id))
    return [line for line in text.splitlines() if re.match(r"\d+\. ", line)], text


def test_top_serves_its_cached_board_then_the_usage_that_landed(slack, api_key):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY))
    before, _ = _top_lines(slack)
    assert before == ["1. <@UALICE>: 1 active day, 0 accepted suggestions (n/a accepted)"]

    # Bob arrives with two days: a board computed a moment ago is still served...
    ingest(slack, api_key, *[worked("UBOB", day) for day in (THIS_MONDAY, "2026-11-17")])
    assert _top_lines(slack)[0] == before
    # ...and once it is old enough to refresh, the new usage shows, refreshed meanwhile.
    slack.freezer.tick(timedelta(seconds=6))
    deadline = time.monotonic() + 60  # generous: the refresh runs behind, on a busy machine
    while (lines := _top_lines(slack, "UBOB"))[0] == before:
        assert time.monotonic() < deadline, "the board never caught up with Bob's usage"
        time.sleep(0.05)
    assert lines[0] == [
        "1. <@UBOB>: 2 active days, 0 accepted suggestions (n/a accepted)",
        "2. <@UALICE>: 1 active day, 0 accepted suggestions (n/a accepted)",
    ]
    assert "*Your place:* 1 of 2." in lines[1]


def test_a_board_nobody_asked_for_in_ten_minutes_is_ranked_before_answering(slack, api_key):
    """Asked once in a quiet afternoon, `top` shows the usage that landed since, and "As of"
    says when the board was ranked."""
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY))
    _, text = _top_lines(slack)
    assert "As of Wed 18 Nov, 13:00 your time (Europe/Berlin)" in text  # noon UTC
    ingest(slack, api_key, *[worked("UBOB", day) for day in (THIS_MONDAY, "2026-11-17")])

    slack.freezer.tick(timedelta(hours=3))
    lines, text = _top_lines(slack)
    assert lines == [
        "1. <@UBOB>: 2 active days, 0 accepted suggestions (n/a accepted)",
        "2. <@UALICE>: 1 active day, 0 accepted suggestions (n/a accepted)",
    ]
    assert "As of Wed 18 Nov, 16:00 your time (Europe/Berlin)" in text


def test_tops_arriving_together_in_a_new_week_sum_it_once(slack, api_key, database_url):
    """The first `top`s of a week, or after a restart, wait for one ranking of everyone's
    week: each summing it at once multiplied the seconds and the memory it takes by the
    callers waiting (`aiusage_ranking_seconds` counts the computations)."""
    if database_url.startswith("sqlite"):
        pytest.skip("holding the week's usage back takes PostgreSQL's LOCK TABLE")
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY))
    for user in ("UALICE", "UBOB"):
        slack.ask("help", user_id=user)  # known now, so `top` is answered in its ack
    answers: list = []
    callers = [
        threading.Thread(target=lambda u=user: answers.append(slack.command("top", user_id=u)))
        for user in ("UALICE", "UBOB")
    ]
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as hold:
        hold.execute("LOCK TABLE usage_events IN ACCESS EXCLUSIVE MODE")
        for caller in callers:
            caller.start()
        time.sleep(1.0)  # both are in, held at the week's usage
        hold.rollback()
    for caller in callers:
        caller.join(30)
    assert [a.status_code for a in answers] == [200, 200]
    assert all("1. <@UALICE>" in text_of(a.json()) for a in answers)
    assert "aiusage_ranking_seconds_count 1.0" in slack.http.get("/metrics").text


def test_top_leaves_out_who_opts_out_at_once_from_the_cached_board(slack, api_key):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY), worked("UBOB", THIS_MONDAY, hour="11"))
    assert len(_top_lines(slack)[0]) == 2
    slack.ask("optout", user_id="UBOB")
    lines, text = _top_lines(slack, "UBOB")
    assert lines == ["1. <@UALICE>: 1 active day, 0 accepted suggestions (n/a accepted)"]
    assert "*Your place:* you opted out" in text


def test_top_refreshes_no_more_often_than_its_last_refresh_allows(slack, api_key, monkeypatch):
    # As if ranking everyone took ages: the usage that landed waits for the spacing, not
    # just the few seconds a small workspace waits.
    monkeypatch.setattr("bot.slack.usage_service.RANKING_REFRESH_SPACING", 1e9)
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY))
    before, _ = _top_lines(slack)
    ingest(slack, api_key, *[worked("UBOB", day) for day in (THIS_MONDAY, "2026-11-17")])
    slack.freezer.tick(timedelta(seconds=6))
    for _ in range(20):  # a second: without the spacing, the refresh lands well within it
        assert _top_lines(slack)[0] == before
        time.sleep(0.05)


# -- answered from the database on every request ------------------------------------------------


def test_me_shows_usage_the_moment_it_lands_here_and_on_another_replica(
    slack, api_key, slack_settings, db, now
):
    # Nothing of `me` is kept between requests: the viewer, their days and their badges
    # are read afresh, in one transaction, on whichever replica answers.
    assert "No AI usage has been recorded" in text_of(slack.ask("me"))
    ingest(slack, api_key, used("UALICE", THIS_MONDAY, tool="copilot", requests=7))
    assert "*Requests:* 7 " in text_of(slack.ask("me"))

    replica = build_services(slack_settings)
    try:
        with TestClient(create_http_app(replica)) as http:
            other = SlackDriver(http, slack.fake, replica, slack.freezer)
            assert "*Requests:* 7 " in text_of(other.ask("me"))
            ingest(slack, api_key, used("UALICE", "2026-11-17", tool="copilot", requests=5))
            assert "*Requests:* 12 " in text_of(other.ask("me"))
            assert "*Requests:* 12 " in text_of(slack.ask("me"))
            # A badge stored since shows on both at once, too.
            week = date(2026, 11, 9)
            person = find_slack_profile(db, "UALICE").person_id
            store_awards(db, week, [NewAward(person, "steady", "5 active days")], now)
            assert "5 active days" in text_of(other.ask("me"))
            assert "5 active days" in text_of(slack.ask("me"))
    finally:
        replica.db.dispose()


def test_opting_out_on_one_replica_shows_in_top_on_another_at_once(slack, api_key, slack_settings):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY), worked("UBOB", THIS_MONDAY, hour="11"))
    replica = build_services(slack_settings)
    try:
        with TestClient(create_http_app(replica)) as http:
            other = SlackDriver(http, slack.fake, replica, slack.freezer)
            assert "<@UBOB>" in text_of(other.ask("top", user_id="UBOB"))
            slack.ask("optout", user_id="UBOB")
            text = text_of(other.ask("top", user_id="UBOB"))
            assert "<@UBOB>" not in text
            assert "*Your place:* you opted out" in text
    finally:
        replica.db.dispose()

"""`/aiusage` end to end: signed requests into the real endpoint, replies read from the HTTP
response or from what the app posted to the fake Slack."""

from __future__ import annotations

from datetime import UTC, date, datetime

from starlette.testclient import TestClient

from bot.composition import build_services, create_http_app
from storage.awards import store_awards
from storage.profiles import find_slack_profile
from storage.records import NewAward
from tests.slack_command_helpers import LAST_MONDAY, THIS_MONDAY, ingest, text_of, used, worked
from tests.slack_fixtures import SlackDriver

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
    # Escaped, and the link's `:` and `.` look-alikes (U+2236, U+2024) Slack links nothing by.
    assert (
        "&lt;!channel&gt; &lt;@UBOB&gt; &amp; &lt;https\u2236//evil\u2024example|click&gt;" in text
    )


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

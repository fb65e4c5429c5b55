"""The App Home end to end: signed `app_home_opened` events and button clicks into the real
endpoint, the `views.publish` payload read back from the fake Slack."""

from __future__ import annotations

import io
import logging
import time

import pytest
from PIL import Image

from bot.demo.signed_requests import app_home_opened
from bot.slack.views.home import (
    DIGEST_OFF_ACTION,
    DIGEST_ON_ACTION,
    OPT_IN_ACTION,
    OPT_OUT_ACTION,
    ORG_ACTION,
)
from storage.digests import digest_subscribers
from storage.profiles import find_slack_profile
from tests.builders import event
from tests.home.helpers import (
    PUBLIC_URL,
    as_view,
    buttons,
    chart_url,
    check_block_kit_limits,
    ingest,
    open_home,
    open_home_after_click,
)
from tests.privacy.helpers import clicked
from tests.slack_command_helpers import text_of
from tests.slack_requests import signed_headers

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


@pytest.mark.postgres
def test_opening_home_publishes_figures_chart_badges_settings_and_notice(slack, api_key):
    ingest(
        slack,
        api_key,
        event(
            occurred_at="2026-11-17T10:00:00Z",
            tool="copilot",
            requests=7,
            suggestions_shown=40,
            suggestions_accepted=10,
        ),
        event(occurred_at="2026-11-10T10:00:00Z", tool="<!channel> $x", requests=3),
    )
    view = open_home(slack)
    check_block_kit_limits(view)
    text = text_of(view)
    assert "Your AI usage, week 2026-W47" in text
    assert "*Requests:* 7  (last week: 3)" in text  # `me`'s own wording
    assert "&lt;!channel&gt; $x" in text and "<!channel>" not in text
    assert "Only you can see this tab" in text and "not for performance reviews" in text
    assert "What each badge rewards" in text and "Steady hand" in text
    assert "Every badge needs a week of real use: at least 20 requests, counting each" in text
    assert "A day is active when a tool did work on it" in text
    assert "accepted, at least 2 active days; believed up to 100)" in text  # Lean and useful
    assert "A place in `/aiusage top` needs 20 too." in text
    assert "at least 3 active days; believed up to 90%)" in text  # Sharp eye
    assert "counting a tool only when 2 or more people used it that week" in text  # Explorer
    assert buttons(view) == {
        OPT_OUT_ACTION: "Leave the leaderboard",
        DIGEST_ON_ACTION: "Turn the digest on",
    }  # not an admin: no org button, no leaderboard state
    assert "For admins" not in text
    url = chart_url(view)
    assert url.startswith(PUBLIC_URL + "/charts/") and url.endswith(".png")
    [image] = [b for b in view["blocks"] if b["type"] == "image"]
    assert "Requests per week, by tool" in image["alt_text"]
    assert "copilot 7 requests latest" in image["alt_text"]

    # The chart the URL names is a real PNG of the figures, fetched without any login.
    response = slack.http.get(url.removeprefix(PUBLIC_URL))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image_file = Image.open(io.BytesIO(response.content))
    assert image_file.size == (800, 60 + 160 * 3)


def test_buttons_change_settings_and_republish(slack):
    open_home(slack)
    slack.click(DIGEST_ON_ACTION, "on")
    view = open_home_after_click(slack, 2)
    assert buttons(view)[DIGEST_OFF_ACTION] == "Turn the digest off"
    assert "Weekly digest: *on*" in text_of(view)
    assert [s.slack_user_id for s in digest_subscribers(slack.services.db)] == ["UALICE"]

    slack.click(OPT_OUT_ACTION, "optout")
    view = open_home_after_click(slack, 3)
    assert buttons(view)[OPT_IN_ACTION] == "Rejoin the leaderboard"
    assert find_slack_profile(slack.services.db, "UALICE").opted_out

    slack.click(OPT_IN_ACTION, "optin")
    slack.click(DIGEST_OFF_ACTION, "off")
    slack.fake.wait_for("views.publish", 5)
    assert not find_slack_profile(slack.services.db, "UALICE").opted_out
    assert digest_subscribers(slack.services.db) == []


def test_admins_see_the_leaderboard_state_and_the_org_button(slack):
    slack.fake.add_user("UADMIN", name="ada", tz="UTC", is_admin=True)
    view = open_home(slack, "UADMIN")
    check_block_kit_limits(view)
    assert "The leaderboard is *live*" in text_of(view)
    assert buttons(view)[ORG_ACTION] == "Open the org view"
    slack.click(ORG_ACTION, "org", user_id="UADMIN")
    view = open_home_after_click(slack, 2)
    assert "/aiusage org" in text_of(view)


def test_the_messages_tab_publishes_nothing(slack):
    body = app_home_opened("UALICE", tab="messages")
    assert slack.post(body, signed_headers(body, "application/json")).status_code == 200
    open_home(slack)  # the next home open is the first publish
    assert len(slack.fake.calls_to("views.publish")) == 1


def test_slacks_retry_of_an_event_already_taken_in_publishes_nothing_again(slack, caplog):
    # Slack retries when our answer was slow to reach it; the first try did the work.
    body = app_home_opened("UALICE")
    for retry in (None, "1", "2"):
        headers = signed_headers(body, "application/json")
        if retry:
            headers |= {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
        with caplog.at_level(logging.INFO):
            assert slack.post(body, headers).status_code == 200
    slack.fake.wait_for("views.publish")
    time.sleep(0.5)  # a second publish would have come by now
    assert len(slack.fake.calls_to("views.publish")) == 1
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 2 and "taken in already" in skipped[0]


def test_a_retry_whose_first_try_never_arrived_is_handled(slack):
    body = app_home_opened("UBOB")
    headers = signed_headers(body, "application/json") | {"X-Slack-Retry-Num": "1"}
    assert slack.post(body, headers).status_code == 200
    assert slack.fake.wait_for("views.publish")[0].params["user_id"] == "UBOB"


def test_an_unsigned_or_stale_event_is_refused(slack, now):
    body = app_home_opened("UALICE")
    bad = signed_headers(body, "application/json", secret="wrong")
    assert slack.post(body, bad).status_code == 401
    old = signed_headers(body, "application/json", timestamp=int(now.timestamp()) - 600)
    assert slack.post(body, old).status_code == 401
    assert slack.fake.calls_to("views.publish") == []


def test_a_chart_failure_still_publishes_the_figures(slack, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("chart data broke")

    monkeypatch.setattr("bot.slack.home_service.trend_chart", broken)
    view = open_home(slack)
    assert "Your AI usage, week 2026-W47" in text_of(view)
    assert not [b for b in view["blocks"] if b["type"] == "image"]


def test_settings_changed_by_slash_command_reach_the_home_tab(slack):
    open_home(slack)  # Alice is known from here on
    slack.ask("digest on")
    view = open_home_after_click(slack, 2)
    assert "Weekly digest: *on*" in text_of(view)
    slack.ask("optout")
    view = open_home_after_click(slack, 3)
    assert buttons(view)[OPT_IN_ACTION] == "Rejoin the leaderboard"
    slack.ask("top")  # not a settings change: no publish
    slack.ask("help")
    assert len(slack.fake.calls_to("views.publish")) == 3


def test_rejoining_the_leaderboard_from_the_home_after_a_forget_counts_usage_again(slack, api_key):
    ingest(slack, api_key, event(requests=7))
    clicked(slack, "aiusage_forget_confirm")
    ingest(slack, api_key, event(requests=3))  # dropped: she is forgotten
    assert "*Usage events* as tools sent them: none" in text_of(slack.ask("mydata"))
    published = len(slack.fake.calls_to("views.publish"))
    slack.click(OPT_IN_ACTION, "optin")
    slack.fake.wait_for("views.publish", published + 1)
    ingest(slack, api_key, event(requests=5))
    assert "*Usage events* as tools sent them: 1," in text_of(slack.ask("mydata"))


def test_a_forgotten_person_opening_their_home_again_is_told_so_and_can_rejoin(slack, api_key):
    ingest(slack, api_key, event(occurred_at="2026-11-17T10:00:00Z", requests=7))
    open_home(slack)
    clicked(slack, "aiusage_forget_confirm")
    slack.fake.wait_for("views.publish", 2)  # the deleted Home, right after the forget
    # Days later she opens the app again: her Home says she is forgotten, not "on the
    # leaderboard" with empty figures, and opening it stores nothing of hers again.
    shown = text_of(open_home(slack, count=3))
    assert "Your aiusage data is deleted" in shown and "*off* the leaderboard" in shown
    assert "You are *on*" not in shown and "Requests:" not in shown
    assert find_slack_profile(slack.services.db, "UALICE") is None
    # A command since (it stores her profile) does not make her Home forget the forget.
    slack.ask("me")
    assert "Your aiusage data is deleted" in text_of(open_home(slack, count=4))
    # Its button lifts the forget, as `/aiusage optin` does, and her Home is back.
    slack.click(OPT_IN_ACTION, "optin")
    [*_, rejoined] = slack.fake.wait_for("views.publish", 5)
    assert "You are *on* the public leaderboard" in text_of(as_view(rejoined.params))
    ingest(slack, api_key, event(occurred_at="2026-11-17T11:00:00Z", requests=5))
    assert "*Usage events* as tools sent them: 1," in text_of(slack.ask("mydata"))

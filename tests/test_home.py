"""The App Home end to end: signed `app_home_opened` events and button clicks into the real
endpoint, the `views.publish` payload read back from the fake Slack, and the chart endpoint."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import threading
import time
from datetime import timedelta

import pytest
from PIL import Image
from starlette.testclient import TestClient

from bot.composition import create_http_app, home_service
from bot.demo.signed_requests import app_home_opened
from bot.slack.chart_tokens import ChartRef, chart_key, sign
from bot.slack.views.home import (
    DIGEST_OFF_ACTION,
    DIGEST_ON_ACTION,
    OPT_IN_ACTION,
    OPT_OUT_ACTION,
    ORG_ACTION,
)
from storage.digests import digest_subscribers
from storage.profiles import find_slack_profile, slack_user_of
from tests.builders import bearer, event
from tests.slack_command_helpers import text_of
from tests.slack_requests import SIGNING_SECRET, signed_headers
from tests.test_privacy import clicked

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

PUBLIC_URL = "https://aiusage.example.com"


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    """The Slack test settings, serving charts from a public URL (HTTP mode)."""
    monkeypatch.setenv("AIUSAGE_PUBLIC_URL", PUBLIC_URL + "/")
    return type(slack_settings)()


def ingest(slack, api_key, *events):
    response = slack.http.post(
        "/api/v1/events", json={"events": list(events)}, headers=bearer(api_key)
    )
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text


def open_home(slack, user_id="UALICE", count=1):
    body = app_home_opened(user_id)
    response = slack.post(body, signed_headers(body, "application/json"))
    assert response.status_code == 200
    [*_, call] = slack.fake.wait_for("views.publish", count)
    assert call.params["user_id"] == user_id
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def check_block_kit_limits(view) -> None:
    assert view["type"] == "home"
    assert 0 < len(view["blocks"]) <= 100
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "image":
            assert 0 < len(block["alt_text"]) <= 2000
            assert len(block.get("image_url", "")) <= 3000
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for button in block["elements"]:
                assert len(button["action_id"]) <= 255 and len(button["text"]["text"]) <= 75


def buttons(view) -> dict[str, str]:
    return {
        e["action_id"]: e["text"]["text"]
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


def chart_url(view) -> str:
    [image] = [b for b in view["blocks"] if b["type"] == "image"]
    return image["image_url"]


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


def open_home_after_click(slack, count):
    [*_, call] = slack.fake.wait_for("views.publish", count)
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


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


# -- the chart endpoint's tokens ---------------------------------------------------------------


def test_chart_tokens_valid_expired_tampered_forged_and_another_persons(slack, now):
    view = open_home(slack)
    path = chart_url(view).removeprefix(PUBLIC_URL)
    assert slack.http.get(path).status_code == 200

    token = path.removeprefix("/charts/").removesuffix(".png")
    body, mac = token.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (
        f"{flipped}.{mac}",  # payload altered
        f"{body}.{mac[:-1]}",  # MAC cut
        "x",
        "../../etc/passwd",
        "a" * 5000,
        # a token made with another key (a guess at the signing secret)
        sign(chart_key("not-the-secret"), ChartRef(1, "2026-W47", "trend", "UALICE"), now),
    ):
        response = slack.http.get(f"/charts/{bad}.png")
        assert response.status_code == 404, bad
        assert response.headers["content-type"].startswith("text/plain")

    # Another person's chart needs a token naming them, which only the server can make.
    key = chart_key(SIGNING_SECRET)
    open_home(slack, user_id="UBOB", count=2)  # Bob is known from his own Home
    bob = find_slack_profile(slack.services.db, "UBOB").person_id
    bob_user = slack_user_of(slack.services.db, bob)
    payload = json.dumps({"p": bob})
    assert slack.http.get(f"/charts/{payload}.png").status_code == 404
    assert (
        slack.http.get(
            f"/charts/{sign(key, ChartRef(bob, '2026-W47', 'trend', bob_user), now)}.png"
        ).status_code
        == 200
    )
    # A token for a person row that is now someone else's (SQLite reuses a forgotten
    # person's id) shows nothing.
    someone_else = sign(key, ChartRef(bob, "2026-W47", "trend", "UFORGOTTEN"), now)
    assert slack.http.get(f"/charts/{someone_else}.png").status_code == 404

    # An unknown chart kind or week is refused even when signed.
    assert (
        slack.http.get(
            f"/charts/{sign(key, ChartRef(1, '2026-W47', 'pie', 'UALICE'), now)}.png"
        ).status_code
        == 404
    )
    assert (
        slack.http.get(
            f"/charts/{sign(key, ChartRef(1, '2026-W99', 'trend', 'UALICE'), now)}.png"
        ).status_code
        == 404
    )

    # Past its expiry the same URL stops working.
    slack.move_to(now + timedelta(hours=24, seconds=1))
    assert slack.http.get(path).status_code == 404


def test_the_chart_endpoint_caches_renders_and_sees_new_usage(slack, api_key):
    view = open_home(slack)
    path = chart_url(view).removeprefix(PUBLIC_URL)
    # The same app `serve` builds, with its Home service (and chart cache) in hand.
    home = home_service(slack.services)
    with TestClient(create_http_app(slack.services, home=home)) as http:
        first = http.get(path).content
        assert (home.cache.hits, home.cache.misses) == (0, 1)
        assert http.get(path).content == first
        assert (home.cache.hits, home.cache.misses) == (1, 1)
        ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=50))
        changed = http.get(path).content
    assert changed != first and home.cache.misses == 2


def without_public_url(slack) -> None:
    """Socket Mode's situation: Slack cannot fetch images from us."""
    slack.services.settings = slack.services.settings.model_copy(update={"public_url": None})


def test_without_a_public_url_the_chart_is_uploaded_to_slack(slack, api_key):
    without_public_url(slack)
    view = open_home(slack)
    check_block_kit_limits(view)
    [image] = [b for b in view["blocks"] if b["type"] == "image"]
    file_id = image["slack_file"]["id"]
    assert "image_url" not in image and "Requests per week" in image["alt_text"]
    png = slack.fake.files[file_id]["content"]
    assert Image.open(io.BytesIO(png)).size == (800, 60 + 160 * 3)
    # Opening again with the same figures reuses the file; new usage replaces it.
    assert chart_file(open_home(slack, count=2)) == file_id
    ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=50))
    replaced = chart_file(open_home(slack, count=3))
    assert replaced != file_id and file_id not in slack.fake.files
    assert len(slack.fake.calls_to("file_upload")) == 2


def chart_file(view) -> str:
    [image] = [b for b in view["blocks"] if b["type"] == "image"]
    return image["slack_file"]["id"]


def test_without_the_files_scope_home_shows_a_text_chart(slack):
    without_public_url(slack)
    slack.fake.fail("files.getUploadURLExternal", error="missing_scope")
    view = open_home(slack)
    assert not [b for b in view["blocks"] if b["type"] == "image"]
    text = text_of(view)
    assert "*Your last 12 weeks*" in text
    assert re.search(r"```Requests per week, by tool\n", text)
    # The scope does not appear by itself: uploads are not tried again.
    open_home(slack, count=2)
    assert len(slack.fake.calls_to("files.getUploadURLExternal")) == 1


def test_the_text_chart_shows_tool_names_as_text(slack, api_key):
    # A tool name is whatever an integration sends for a person: in the text chart's code
    # block it could link, mention, or end the block early, as nowhere else it can.
    names = ["<https://ev.il|Re-login>", "```<!here>", "<@UBOB>", "tab\tname\u202e"]
    ingest(slack, api_key, *(event(event_id=name, tool=name, kind="chat") for name in names))
    without_public_url(slack)
    slack.fake.fail("files.getUploadURLExternal", error="missing_scope")
    [chart] = [
        b["text"]["text"] for b in open_home(slack)["blocks"] if "12 weeks" in str(b.get("text"))
    ]
    body = chart.split("```")[1]  # the block holds the whole chart, then ends
    assert chart.endswith("```") and chart.count("```") == 2
    assert "<" not in body and ">" not in body
    assert "&lt;https://ev.il|Re-login&gt;" in body and "&lt;@UBOB&gt;" in body
    assert "'''&lt;!here&gt;" in body and "tab?name?" in body


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


# -- one person's publishes, in order; rate limits ----------------------------------------------


def post_open(slack, user_id="UALICE") -> None:
    """A signed `app_home_opened`, without waiting for its publish."""
    body = app_home_opened(user_id)
    assert slack.post(body, signed_headers(body, "application/json")).status_code == 200


def hold_first_publish(slack) -> tuple[threading.Event, threading.Event, list[str]]:
    """Slack is slow on the next `views.publish` until `release` is set: returns the event
    set once it is held, `release`, and the text of each view Slack applied, in order."""
    held, release = threading.Event(), threading.Event()

    def hold(_params) -> bool:
        if not held.is_set():
            held.set()
            release.wait(10)
        return True

    applied: list[str] = []
    slack.fake.before("views.publish", hold)
    slack.fake.after("views.publish", lambda params: applied.append(text_of(as_view(params))))
    return held, release, applied


def as_view(params) -> dict:
    view = params["view"]
    return json.loads(view) if isinstance(view, str) else view


def wait_until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_home_publish_begun_before_a_forget_never_lands_after_it(slack, api_key):
    ingest(slack, api_key, event(occurred_at="2026-11-17T10:00:00Z", tool="copilot", requests=7))
    held, release, applied = hold_first_publish(slack)
    post_open(slack)
    assert held.wait(10)  # her figures are on their way to Slack, slowly
    assert "deleted" in json.dumps(clicked(slack, "aiusage_forget_confirm"))
    release.set()
    wait_until(lambda: len(applied) == 2)
    # What her Home shows is the last view Slack took: the deleted one, not her figures.
    assert "Requests:" in applied[0]
    assert "Your aiusage data is deleted" in applied[-1]


def test_a_setting_changed_while_a_publish_is_under_way_is_what_the_home_shows(slack):
    held, release, applied = hold_first_publish(slack)
    post_open(slack)
    assert held.wait(10)
    slack.click(OPT_OUT_ACTION, "optout")
    wait_until(lambda: find_slack_profile(slack.services.db, "UALICE").opted_out)
    # Time enough for the click's own publish to reach Slack first, were it not queued.
    with contextlib.suppress(AssertionError):
        wait_until(lambda: len(slack.fake.calls_to("views.publish")) == 2, timeout=0.5)
    release.set()
    wait_until(lambda: len(applied) == 2)
    assert "Leave the leaderboard" in applied[0]
    assert "Rejoin the leaderboard" in applied[-1]


def test_home_opens_while_one_is_publishing_are_merged_into_one_more_publish(slack):
    held, release, applied = hold_first_publish(slack)
    post_open(slack)
    assert held.wait(10)
    for _ in range(11):  # she keeps clicking the tab while Slack is slow
        post_open(slack)
    release.set()
    wait_until(lambda: len(applied) >= 2)
    time.sleep(0.3)  # a third publish would have come by now
    assert len(slack.fake.calls_to("views.publish")) == 2


def test_home_publishes_under_way_or_pending_when_the_app_stops_are_finished_first(slack):
    held, release, applied = hold_first_publish(slack)
    with TestClient(create_http_app(slack.services)) as http:
        for _ in range(2):  # one under way, one pending behind it
            body = app_home_opened("UALICE")
            headers = signed_headers(body, "application/json")
            response = http.post("/slack/events", content=body.encode(), headers=headers)
            assert response.status_code == 200
            assert held.wait(10)
        threading.Timer(0.2, release.set).start()
    assert len(applied) == 2


def test_rate_limited_home_opens_never_hold_up_anyone_elses_command(slack, caplog):
    slack.fake.fail("views.publish", status=429, retry_after=1, times=1000)
    with caplog.at_level(logging.INFO, logger="aiusage.home"):
        for _ in range(12):  # one person clicking the tab a dozen times while Slack says 429
            post_open(slack)
        slack.fake.wait_for("views.publish")
        started = time.monotonic()
        # Bob is new, so his answer comes after the ack, looked up with users.info first.
        assert "Your AI usage" in text_of(slack.ask("me", user_id="UBOB"))
        assert time.monotonic() - started < 3
        # Dropped rather than waited out and sent again: one call an open at most, one line.
        time.sleep(0.3)
    assert 1 <= len(slack.fake.calls_to("views.publish")) <= 12
    limited = [r for r in caplog.records if "rate limited" in r.getMessage()]
    assert len(limited) == 1 and "UALICE" in limited[0].getMessage()


def test_a_rate_limited_home_is_dropped_and_the_next_open_publishes_it(slack):
    slack.fake.fail("views.publish", status=429, retry_after=1, times=1)
    applied: list[str] = []
    slack.fake.after("views.publish", lambda params: applied.append(params["user_id"]))
    open_home(slack)
    time.sleep(0.3)  # a retry would have come by now had it not waited out Retry-After
    assert len(slack.fake.calls_to("views.publish")) == 1 and applied == []
    open_home(slack, count=2)
    wait_until(lambda: applied == ["UALICE"])


def test_a_rate_limited_deleted_home_is_published_again_after_retry_after(slack, api_key):
    ingest(slack, api_key, event(occurred_at="2026-11-17T10:00:00Z", requests=7))
    open_home(slack)
    slack.fake.fail("views.publish", status=429, retry_after=1, times=1)
    clicked(slack, "aiusage_forget_confirm")
    [*_, limited, again] = slack.fake.wait_for("views.publish", 3)
    assert text_of(as_view(limited.params)) == text_of(as_view(again.params))
    assert "Your aiusage data is deleted" in text_of(as_view(again.params))


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

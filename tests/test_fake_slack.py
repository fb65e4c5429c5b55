"""The fake Slack behaves like the real one where the app depends on it."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.demo.fake_slack import FakeSlack
from bot.settings import load_settings
from bot.slack.client import make_web_client


@pytest.fixture
def fake():
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def web(fake, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    return make_web_client(load_settings())


def test_a_429_is_waited_out_and_posted_once(fake, web):
    fake.fail("chat.postMessage", status=429, retry_after=1)
    response = web.chat_postMessage(channel="CAWARDS", text="hi")
    assert response["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert len(fake.messages["CAWARDS"]) == 1


def test_the_homes_client_hands_back_every_429_at_once(fake, web):
    homes = make_web_client(load_settings(), wait_out_rate_limits=False)
    fake.add_user("UALICE", email="alice@example.com")
    fake.fail("views.publish", status=429, retry_after=1)
    fake.fail("users.info", status=429, retry_after=1)
    for call in (
        lambda: homes.views_publish(user_id="UALICE", view={"type": "home", "blocks": []}),
        lambda: homes.users_info(user="UALICE"),
    ):
        with pytest.raises(SlackApiError) as caught:
            call()
        assert caught.value.response.status_code == 429
    # Not sent again: the Home's to handle; a dropped connection is still tried again.
    assert len(fake.calls_to("views.publish")) == len(fake.calls_to("users.info")) == 1
    fake.fail("users.info", drop_connection=True)
    assert homes.users_info(user="UALICE")["user"]["id"] == "UALICE"


def test_a_dropped_connection_is_retried(fake, web):
    fake.fail("users.info", drop_connection=True)
    fake.add_user("UALICE", email="alice@example.com")
    assert web.users_info(user="UALICE")["user"]["id"] == "UALICE"


def test_slack_errors_surface_as_exceptions(fake, web):
    with pytest.raises(SlackApiError) as caught:
        web.chat_postMessage(channel="CNOPE", text="hi")
    assert caught.value.response["error"] == "channel_not_found"


def test_an_answer_outliving_the_clients_timeout_is_dropped_quietly(fake, capfd):
    """As Slack's would be: a stalled answer written after the client hung up printed a
    traceback, which landed in whichever test ran next and failed it."""
    fake.fail("chat.postMessage", stall=0.6)
    impatient = WebClient(token="xoxb-test", base_url=fake.api_url, timeout=0.2)
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel="CAWARDS", text="hi")
    time.sleep(0.8)  # the fake's answer is written, to nobody
    assert "Traceback" not in capfd.readouterr().err

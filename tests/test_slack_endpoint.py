"""POST /slack/events: signatures, a slow or rate-limiting Slack, and an event loop kept free."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
from slack_bolt.adapter.socket_mode.internals import run_bolt_app
from slack_sdk.socket_mode.request import SocketModeRequest
from starlette.testclient import TestClient

from bot.composition import build_services, create_bolt_app, create_http_app
from bot.settings import load_settings
from bot.slack.authorization import RETRY_AFTER_S
from bot.slack.listeners.errors import ERROR_TEXT
from storage.db import Database
from storage.profiles import save_slack_profile
from tests.fault_helpers import wait_until
from tests.slack_fixtures import BOT_TOKEN
from tests.slack_requests import block_actions, signed_headers, slash_command

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


@pytest.fixture
def body(slack):
    return slash_command("help", response_url=slack.fake.response_url())


def test_a_signed_request_is_answered(slack, body):
    assert slack.post(body).status_code == 200


def test_a_missing_signature_is_401(slack, body):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert slack.post(body, headers).status_code == 401
    assert slack.fake.calls == []


def test_a_wrong_signature_is_401(slack, body):
    assert slack.post(body, signed_headers(body, secret="not-the-secret")).status_code == 401
    tampered = body.replace("help", "top")
    assert slack.post(tampered, signed_headers(body)).status_code == 401
    assert slack.fake.calls == []


def test_a_signature_older_than_five_minutes_is_401(slack, body):
    now = int(time.time())
    assert slack.post(body, signed_headers(body, timestamp=now - 301)).status_code == 401
    assert slack.post(body, signed_headers(body, timestamp=now + 301)).status_code == 401
    assert slack.post(body, signed_headers(body, timestamp=now - 290)).status_code == 200


def test_without_slack_settings_the_endpoint_says_so(services):
    with TestClient(create_http_app(services)) as client:
        response = client.post("/slack/events", content=b"x")
    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET" in response.json()["error"]


def test_a_429_from_slack_is_waited_out(slack):
    slack.fake.fail("users.info", status=429, retry_after=1)
    reply = slack.ask("help")
    assert "`/aiusage me`" in reply["blocks"][0]["text"]["text"]
    assert len(slack.fake.calls_to("users.info")) == 2


def test_slow_commands_do_not_delay_a_health_check(slack_settings, db):
    # Bolt's dispatch runs in a worker thread: a listener that takes a second (a slow
    # database, say) must not hold up the event loop that answers the health check.
    slow = 1.0
    services = build_services(slack_settings)
    services.db = db
    with ThreadPoolExecutor(2) as after_ack, ThreadPoolExecutor(5) as pool:
        bolt = create_bolt_app(services, after_ack)
        assert bolt is not None
        bolt.command("/slow")(lambda ack: (time.sleep(slow), ack()))
        body = slash_command("", command="/slow")
        with TestClient(create_http_app(services, bolt=bolt)) as http:
            started = time.monotonic()
            commands = [
                pool.submit(http.post, "/slack/events", content=body, headers=signed_headers(body))
                for _ in range(4)
            ]
            time.sleep(0.2)  # the commands are in flight
            health_started = time.monotonic()
            health = http.get("/healthz")
            health_took = time.monotonic() - health_started
            statuses = [c.result().status_code for c in commands]
    assert health.status_code == 200
    assert health_took < 0.5, health_took
    assert statuses == [200] * 4
    assert time.monotonic() - started >= slow  # the commands really were slow


def test_commands_are_answered_while_slack_cannot_say_who_the_bot_is(slack, db, now):
    # Slack's Web API hangs on auth.test, which tells the bot's own ids and which workspace
    # is ours: the commands of a member already vouched for need nothing from it, so none
    # waits for it, and it is asked once, not by every command.
    held, released, answered = threading.Event(), threading.Event(), threading.Event()
    vouched_for(db, "UALICE", now)

    def hang(_params):
        held.set()
        released.wait(5)
        return True

    slack.fake.before("auth.test", hang)
    slack.fake.after("auth.test", lambda _params: answered.set())
    try:
        assert "`/aiusage me`" in str(slack.ask("help"))  # Alice: in the acknowledgement
        assert held.wait(5)
        reply = slack.command("me")
        assert reply.status_code == 200 and "Only you can see this" in reply.text
        assert not answered.is_set()
    finally:
        released.set()
    assert answered.wait(5)
    for _ in range(3):
        assert "Only you can see this" in slack.command("me").text
    assert len(slack.fake.calls_to("auth.test")) == 1


def test_a_bot_token_slack_refuses_is_said_once_and_commands_still_answer(slack, db, now, caplog):
    slack.fake.fail("auth.test", error="invalid_auth", times=10)
    vouched_for(db, "UALICE", now)
    slack.ask("help")  # Alice, vouched for before: answered from what is stored
    slack.fake.wait_for("auth.test")
    refused = wait_until(
        "the refusal logged",
        lambda: next((r for r in caplog.records if "Slack refused" in r.getMessage()), None),
        timeout=5,
    )
    assert refused.levelno == logging.ERROR and "invalid_auth" in refused.getMessage()
    assert BOT_TOKEN not in caplog.text
    for _ in range(3):
        assert "Only you can see this" in slack.command("me").text
    assert len(slack.fake.calls_to("auth.test")) == 1  # not asked again by every command
    slack.move_to(now + timedelta(seconds=RETRY_AFTER_S + 1))
    slack.command("me")
    slack.fake.wait_for("auth.test", count=2)


def vouched_for(db, user_id, now):
    """A member Slack vouched for before (users.info answered for them and was stored)."""
    save_slack_profile(db, user_id, display_name=None, tz=None, is_workspace_admin=False, now=now)


def lifecycle_event(kind: str, **fields: object) -> str:
    """An event Slack sends every app, subscribed or not."""
    event = {"type": kind, "event_ts": "1.2", **fields}
    envelope = {"type": "event_callback", "team_id": "T0001", "event_id": f"Ev{kind}"}
    return json.dumps({**envelope, "event": event})


@pytest.mark.parametrize(
    ("body", "told"),
    [
        (lifecycle_event("app_uninstalled"), "uninstalled from workspace T0001"),
        (
            lifecycle_event("tokens_revoked", tokens={"bot": ["UBOT"]}),
            "revoked the bot token in workspace T0001",
        ),
    ],
)
def test_uninstalling_or_revoking_the_token_is_acknowledged_and_told_once(
    slack, caplog, body, told
):
    # Slack retries an event answered 404, and turns off the app's events when they pile up.
    with caplog.at_level(logging.INFO):
        assert slack.post(body, signed_headers(body, "application/json")).status_code == 200
    said = wait_until(
        "the operator told",
        lambda: [r for r in caplog.records if told in r.getMessage()],
        timeout=5,
    )
    assert [(r.levelno, r.exc_info) for r in said] == [(logging.ERROR, None)]
    assert "SLACK_BOT_TOKEN" in said[0].getMessage()


def test_revoking_only_user_tokens_is_acknowledged_quietly(slack, caplog):
    body = lifecycle_event("tokens_revoked", tokens={"oauth": ["UALICE"]})
    assert slack.post(body, signed_headers(body, "application/json")).status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_socket_mode_without_an_app_token_stops_with_one_clear_line(settings, capsys):
    from bot.cli.main import main

    assert main(["serve", "--socket-mode"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("aiusage: SLACK_APP_TOKEN:") and "\n" not in err


def test_interactivity_and_events_come_through_the_same_checked_endpoint(slack):
    click = block_actions("aiusage_unknown_action", "1", response_url=slack.fake.response_url())
    assert (
        slack.post(click, {"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    )
    assert slack.post(click).status_code == 404  # verified, and no listener claims it (yet)

    challenge = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"})
    headers = signed_headers(challenge, "application/json")
    answer = slack.post(challenge, headers)
    assert answer.status_code == 200 and answer.json() == {"challenge": "c-123"}
    assert slack.post(challenge, {"Content-Type": "application/json"}).status_code == 401


def test_a_failure_inside_a_command_is_told_to_the_caller_not_leaked(slack, tmp_path):
    slack.ask("help")  # Alice is known, so the next command is answered in the ack
    slack.services.db = Database(f"sqlite:///{tmp_path}/gone/aiusage.db", slack.services.db.tz)
    response = slack.command("me")
    assert response.status_code == 200
    assert response.json() == {
        "response_type": "ephemeral",
        "text": ERROR_TEXT,
        "replace_original": False,
    }


def test_a_failure_after_the_ack_is_told_through_response_url(slack, tmp_path):
    slack.fake.delay("users.info", 0.5)
    response = slack.command("me", response_url="late")  # first sight: answered later
    assert response.status_code == 200 and response.content == b""
    # While the app waits for users.info, the database goes away.
    slack.services.db = Database(f"sqlite:///{tmp_path}/gone/aiusage.db", slack.services.db.tz)
    slack.fake.wait_for("response_url")
    [posted] = slack.responses("late")
    assert posted["text"] == ERROR_TEXT and posted["response_type"] == "ephemeral"


def test_socket_mode_runs_the_same_listeners_and_http_stays_closed_without_a_secret(
    settings, db, fake_slack, monkeypatch
):
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    services = build_services(load_settings())
    services.db = db
    executor = ThreadPoolExecutor(2)
    bolt = create_bolt_app(services, executor)
    # What Bolt's SocketModeHandler does with each request from the WebSocket.
    payload = dict(parse_qsl(slash_command("help", response_url=fake_slack.response_url("ws"))))
    request = SocketModeRequest(type="slash_commands", envelope_id="e1", payload=payload)
    assert run_bolt_app(bolt, request).status == 200
    executor.shutdown(wait=True)
    [posted] = [c.params for c in fake_slack.calls_to("response_url") if c.path == "/response/ws"]
    assert "`/aiusage me`" in posted["blocks"][0]["text"]["text"]

    body = slash_command("help")
    with TestClient(create_http_app(services, bolt=bolt)) as http:
        response = http.post("/slack/events", content=body, headers=signed_headers(body, secret=""))
    assert response.status_code == 503  # never verified against an empty secret

"""Hostile requests at POST /slack/events: malformed signature headers are a quiet 401, and
any text whatsoever after `/aiusage` is answered, proved with hypothesis through the real
signed endpoint."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.slack.command_text import Help, parse_command
from bot.slack.listeners.errors import ERROR_TEXT
from storage.profiles import find_slack_profile
from tests.slack_requests import signed_headers, slash_command

FORM_TYPE = "application/x-www-form-urlencoded"
FORM = {"Content-Type": FORM_TYPE}
JSON = "application/json"
# Words that mean something to Slack's own request formats, or to a form body.
LOADED = ["payload", "token", "command", "ssl_check", "type", "=", "&", "%", "text", "{", "+"]


def text_of(reply: dict) -> str:
    return " ".join(str(block.get("text", {}).get("text", "")) for block in reply["blocks"])


@pytest.fixture
def body(slack):
    return slash_command("help", response_url=slack.fake.response_url())


def bad_headers(body: str) -> list[dict[str, str]]:
    good = signed_headers(body)
    stamp, signature = good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]
    return [
        {**FORM, "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": signature},
        {**FORM, "X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": signature},
        {**FORM, "X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": signature},
        {**FORM, "X-Slack-Request-Timestamp": "-5", "X-Slack-Signature": signature},
        {**FORM, "X-Slack-Request-Timestamp": " " + stamp, "X-Slack-Signature": signature},
        {**FORM, "X-Slack-Request-Timestamp": stamp},
        {**FORM, "X-Slack-Signature": signature},
        {**FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=zz"},
        {**FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v1=" + "0" * 64},
        {**FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + "0" * 64},
        {**FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature + "0"},
        FORM,
    ]


def test_malformed_signature_headers_are_401_with_one_short_line(slack, body, caplog):
    for headers in bad_headers(body):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = slack.post(body, headers)
        assert response.status_code == 401, headers
        # Besides the access log's line for every request, one line says why.
        lines = [
            r
            for r in caplog.records
            if r.name.startswith(("aiusage", "slack_bolt")) and r.name != "aiusage.access"
        ]
        assert len(lines) == 1, [r.getMessage() for r in lines]
        assert lines[0].exc_info is None and lines[0].levelno == logging.WARNING
        assert len(lines[0].getMessage()) < 120 and "help" not in lines[0].getMessage()
    assert slack.fake.calls == []


def test_a_hostile_unsigned_body_is_401_not_an_error(slack, caplog):
    for hostile in ("[" * 50_000, "{" + '"a":' * 40_000, "payload=" + "[" * 50_000, "\x00\xff"):
        response = slack.post(hostile, {**FORM, "X-Slack-Request-Timestamp": "1"})
        assert response.status_code == 401
    assert not [r for r in caplog.records if r.exc_info]


def test_a_signed_deeply_nested_payload_is_refused_without_a_traceback(slack, caplog):
    body = "payload=" + "%5B" * 50_000
    response = slack.post(body, signed_headers(body))
    assert response.status_code == 400
    assert not [r for r in caplog.records if r.exc_info]


def form(**fields: object) -> str:
    return urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()})


def click_payload(**fields: object) -> str:
    click = {"type": "block_actions", "user": {"id": "UALICE"}, "team": {"id": "T0001"}}
    return form(payload={**click, "response_url": "http://127.0.0.1:9/r", **fields})


FORGET = {"action_id": "aiusage_forget_confirm", "value": "self"}


def command_without(*names: str) -> str:
    return urlencode({k: v for k, v in parse_qsl(slash_command("me")) if k not in names})


# Signed, but shaped like nothing Slack sends: Bolt's parse, its matchers or our listeners
# raised on each, and the caller got a 500 and the log a traceback.
MALFORMED = {
    "a JSON array": ("[1,2,3]", JSON),
    "JSON null": ("null", JSON),
    "a JSON string": ('"x"', JSON),
    "a payload that is an array": (form(payload=[1]), FORM_TYPE),
    "a payload that is not JSON": (form(payload="{not json"), FORM_TYPE),
    "a click with no actions": (click_payload(actions=[]), FORM_TYPE),
    "a click with no user": (
        click_payload(user={"id": None}, actions=[{"action_id": "aiusage_forget_confirm"}]),
        FORM_TYPE,
    ),
    "a view with no type": (
        form(payload={"type": "view_submission", "user": {"id": "UALICE"}, "view": {}}),
        FORM_TYPE,
    ),
    "an event with no event": (json.dumps({"type": "event_callback", "team_id": "T0001"}), JSON),
    "a Home opened by nobody": (
        json.dumps({"type": "event_callback", "event": {"type": "app_home_opened", "user": None}}),
        JSON,
    ),
    "an event whose user is a number": (
        json.dumps({"type": "event_callback", "event": {"type": "app_home_opened", "user": 5}}),
        JSON,
    ),
    "a command with no user": (command_without("user_id"), FORM_TYPE),
    # The people tables key on Slack's IDs: this one was acknowledged, then failed.
    "a command from a user_id no Slack user has": (
        urlencode({**dict(parse_qsl(slash_command("me"))), "user_id": "U" + "X" * 5000}),
        FORM_TYPE,
    ),
    "a click by a user_id no Slack user has": (
        click_payload(user={"id": "alice"}, actions=[{"action_id": "aiusage_forget_confirm"}]),
        FORM_TYPE,
    ),
    "a command with no user or response_url": (
        command_without("user_id", "response_url"),
        FORM_TYPE,
    ),
    # A confirm in a message is answered at its response_url: without one, or with one no
    # HTTP client posts to, the forget was done and the person never told (a traceback).
    "a forget click with no response_url": (
        form(payload={"type": "block_actions", "user": {"id": "UALICE"}, "actions": [FORGET]}),
        FORM_TYPE,
    ),
    "a forget click whose response_url is a file": (
        click_payload(response_url="file:///etc/hostname", actions=[FORGET]),
        FORM_TYPE,
    ),
    "a click whose response_url is plain HTTP elsewhere": (
        click_payload(response_url="http://203.0.113.9/r", actions=[FORGET]),
        FORM_TYPE,
    ),
    "a command whose response_url is no URL": (
        urlencode({**dict(parse_qsl(slash_command("me"))), "response_url": "javascript:x"}),
        FORM_TYPE,
    ),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_signed_body_slack_never_sends_is_400_with_one_short_line(slack, caplog, name):
    body, content_type = MALFORMED[name]
    with caplog.at_level(logging.INFO):
        response = slack.post(body, signed_headers(body, content_type))
    assert response.status_code == 400
    lines = [
        r
        for r in caplog.records
        if r.name.startswith(("aiusage", "slack_bolt")) and r.name != "aiusage.access"
    ]
    assert [(r.levelno, r.exc_info) for r in lines] == [(logging.WARNING, None)]
    assert len(lines[0].getMessage()) < 120
    time.sleep(0.2)  # anything done after an ack would have reached the fake Slack by now
    assert slack.fake.calls == []


@pytest.mark.parametrize("text", [*LOADED, "payload=x", "a&payload={}", "ssl_check=1", "%zz"])
def test_words_that_mean_something_to_slack_get_help(slack, text):
    reply = slack.ask(text)
    assert "`/aiusage me`" in text_of(reply), text


def test_the_word_payload_still_leaves_real_interactions_alone(slack):
    # A real button click is a form with a `payload` field: still dispatched as one.
    response = slack.click("aiusage_retire_confirm", "12345")
    assert response.status_code == 200


@st.composite
def slash_texts(draw: st.DrawFn) -> str:
    """Free text mixed with words loaded for Slack's formats, and sometimes a subcommand."""
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(LOADED), st.text(max_size=12), st.sampled_from(["me", "top"])
            ),
            max_size=6,
        )
    )
    joiner = draw(st.sampled_from([" ", "", "=", "&"]))
    return joiner.join(parts)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.one_of(slash_texts(), st.text(max_size=40)))
@example(text="payload")
@example(text="token=x&command=/other&type=block_actions")
@example(text="ssl_check=1&payload=%7B%7D")
@example(text="%")
def test_any_text_whatsoever_is_answered(slack, text):
    started = time.monotonic()
    reply = slack.ask(text, timeout=10)
    answer = text_of(reply) + reply.get("text", "")
    assert ERROR_TEXT not in answer
    assert answer.strip()
    if isinstance(parse_command(text), Help):
        assert "`/aiusage me`" in answer
    assert time.monotonic() - started < 10


def test_a_forget_click_from_a_view_without_a_response_url_forgets_nobody(slack, caplog, db):
    # A view's clicks come without a response_url, and pass the door; a confirm that answers
    # in a message needs one, or the person would be forgotten and never told.
    assert slack.ask("me")["response_type"] == "ephemeral"
    click = {"type": "block_actions", "user": {"id": "UALICE"}, "team": {"id": "T0001"}}
    view = {"container": {"type": "view", "view_id": "V1"}, "view": {"id": "V1", "type": "home"}}
    body = form(payload={**click, **view, "actions": [FORGET]})
    with caplog.at_level(logging.INFO):
        assert slack.post(body, signed_headers(body, FORM_TYPE)).status_code == 200
        deadline = time.monotonic() + 5
        while not [r for r in caplog.records if "response_url" in r.getMessage()]:
            assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
            time.sleep(0.01)
    assert find_slack_profile(db, "UALICE") is not None
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]

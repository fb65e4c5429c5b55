"""Hostile requests at POST /slack/events: malformed signature headers are a quiet 401, and
any text whatsoever after `/aiusage` is answered, proved with hypothesis through the real
signed endpoint."""

from __future__ import annotations

import logging
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.slack.command_text import Help, parse_command
from bot.slack.listeners.errors import ERROR_TEXT
from tests.slack_requests import signed_headers, slash_command

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
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
    assert response.status_code == 404
    assert not [r for r in caplog.records if r.exc_info]


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

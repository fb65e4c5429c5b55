"""Any text after `/aiusage` is answered over Socket Mode too, as it is over HTTP
(tests/test_slack_hostile.py): the real Bolt app behind our Socket Mode runner, against the
fake Socket Mode endpoint and the fake Web API on loopback, with hypothesis choosing the text."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.composition import build_services, create_bolt_app
from bot.demo.signed_requests import app_home_opened
from bot.slack.client import make_web_client
from bot.slack.command_text import Help, parse_command
from bot.slack.listeners.errors import ERROR_TEXT
from bot.slack.socket_mode import SocketModeRunner
from tests.fakes.socket_mode import FakeSocketMode
from tests.slack_command_helpers import text_of
from tests.test_slack_hostile import LOADED, slash_texts
from tests.test_socket_mode import command, replies, socket_slack  # noqa: F401 (fixture)


class SocketAsker:
    """Sends `/aiusage <text>` as a `slash_commands` envelope and returns what the caller
    sees: the acknowledgement's payload, or the app's later post to the response_url."""

    def __init__(self, socket: FakeSocketMode, fake: Any) -> None:
        self.socket = socket
        self.fake = fake
        self._names = itertools.count(1)

    def ask(self, text: str, timeout: float = 10.0) -> dict[str, Any]:
        name = f"s{next(self._names)}"
        envelope = self.socket.send("slash_commands", command(self.fake, text, "UALICE", name))
        acked = self.socket.wait_ack(envelope, timeout)
        if acked.ack and acked.ack.get("payload"):
            return acked.ack["payload"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if posted := replies(self.fake, name):
                return posted[0]
            time.sleep(0.01)
        raise AssertionError(f"no reply to {text!r} over Socket Mode")


@pytest.fixture
def socket_asker(slack_settings, db, fake_slack, socket_slack) -> Iterator[SocketAsker]:  # noqa: F811
    services = build_services(slack_settings)
    services.db = db
    executor = ThreadPoolExecutor(4, thread_name_prefix="test-after-ack")
    bolt = create_bolt_app(services, executor)
    assert bolt is not None
    runner = SocketModeRunner(bolt, fake_slack.app_token, make_web_client(slack_settings))
    runner.connect()
    socket_slack.wait_connections(1)
    try:
        yield SocketAsker(socket_slack, fake_slack)
    finally:
        runner.close()
        executor.shutdown(wait=True)


@pytest.mark.parametrize("text", [*LOADED, "payload=x", "a&payload={}", "ssl_check=1", "%zz"])
def test_words_that_mean_something_to_slack_get_help_over_socket_mode(socket_asker, text):
    reply = socket_asker.ask(text)
    assert "`/aiusage me`" in text_of(reply), text


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.one_of(slash_texts(), st.text(max_size=40)))
@example(text="payload")
@example(text="token=x&command=/other&type=block_actions")
@example(text="ssl_check=1&payload=%7B%7D")
@example(text="%")
@example(text="\x00")
def test_any_text_whatsoever_is_answered_over_socket_mode(socket_asker, text):
    reply = socket_asker.ask(text)
    answer = text_of(reply) + str(reply.get("text", ""))
    assert ERROR_TEXT not in answer
    assert answer.strip()
    if isinstance(parse_command(text), Help):
        assert "`/aiusage me`" in answer


def click(response_url: str | None, **fields: Any) -> dict[str, Any]:
    """A forget confirm click as Socket Mode carries it: the interaction payload itself."""
    found = {"type": "block_actions", "user": {"id": "UALICE"}, "team": {"id": "T0001"}}
    found["actions"] = [{"action_id": "aiusage_forget_confirm", "value": "self"}]
    return {**found, **({} if response_url is None else {"response_url": response_url}), **fields}


def with_reply_url(fake: Any, url: str | None) -> dict[str, str]:
    fields = command(fake, "me", "UALICE", "never")
    del fields["response_url"]
    return fields if url is None else {**fields, "response_url": url}


# The envelopes the HTTP door refuses with 400 (tests/test_slack_hostile.py), as Socket Mode
# carries them: each with no address, or none an answer should go to.
NO_ADDRESS = {
    "a command with plain HTTP elsewhere": ("slash_commands", "http://203.0.113.9/r"),
    "a command to a file": ("slash_commands", "file:///etc/hostname"),
    "a command to javascript:": ("slash_commands", "javascript:x"),
    "a command with no response_url": ("slash_commands", None),
    "a click with plain HTTP elsewhere": ("interactive", "http://203.0.113.9/r"),
    "a click to a file": ("interactive", "file:///etc/hostname"),
    "a click in a message with no response_url": ("interactive", None),
}


@pytest.mark.parametrize("name", NO_ADDRESS)
def test_an_envelope_with_no_address_to_answer_at_is_acked_and_not_acted_on(
    socket_asker, caplog, name
):
    kind, url = NO_ADDRESS[name]
    fake, socket = socket_asker.fake, socket_asker.socket
    payload = with_reply_url(fake, url) if kind == "slash_commands" else click(url)
    before = len(fake.calls)
    with caplog.at_level(logging.INFO):
        acked = socket.wait_ack(socket.send(kind, payload))
        time.sleep(0.3)  # anything done after the ack would have reached the fake Slack by now
    # Acknowledged, so Slack does not send it again; answered with nothing.
    assert acked.ack == {"envelope_id": acked.envelope_id}
    assert fake.calls[before:] == []
    lines = [r for r in caplog.records if r.name.startswith(("aiusage", "slack_bolt"))]
    assert [(r.levelno, r.exc_info) for r in lines] == [(logging.WARNING, None)], lines
    line = lines[0].getMessage()
    said = "a slash command" if kind == "slash_commands" else "a click"
    assert line.startswith(f"{said} by UALICE is not acted on: ") and "response_url" in line
    assert len(line) < 120


def test_a_click_from_a_view_without_a_response_url_passes_the_socket_door(socket_asker, caplog):
    # A Home's buttons come without a response_url, as over HTTP; the forget confirm then
    # refuses on its own (it answers in a message), and nobody is forgotten.
    fake, socket = socket_asker.fake, socket_asker.socket
    view = {"container": {"type": "view", "view_id": "V1"}, "view": {"id": "V1", "type": "home"}}
    with caplog.at_level(logging.INFO):
        socket.wait_ack(socket.send("interactive", click(None, **view), response_payload=False))
        time.sleep(0.3)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "a click by UALICE is not acted on: response_url is not a URL"
    ]
    assert fake.calls_to("users.info") == []


def test_slacks_retry_of_an_event_already_taken_in_publishes_nothing_again(socket_asker, caplog):
    """Over HTTP a retried event already taken in is skipped (tests/home/test_home.py);
    Socket Mode retries an envelope it thinks went unacknowledged, with the same event_id."""
    fake, socket = socket_asker.fake, socket_asker.socket
    event = json.loads(app_home_opened("UALICE"))
    for attempt in (0, 1, 2):
        socket.wait_ack(socket.send("events_api", event, retry_attempt=attempt))
    fake.wait_for("views.publish")
    time.sleep(0.5)  # a second publish would have come by now
    assert len(fake.calls_to("views.publish")) == 1

"""Any text after `/aiusage` is answered over Socket Mode too, as it is over HTTP
(tests/test_slack_hostile.py): the real Bolt app behind our Socket Mode runner, against the
fake Socket Mode endpoint and the fake Web API on loopback, with hypothesis choosing the text."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.composition import build_services, create_bolt_app
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

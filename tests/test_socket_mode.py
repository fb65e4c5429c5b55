"""`aiusage serve --socket-mode` as a real process, against a local Slack speaking Socket Mode:
`apps.connections.open` on the fake Web API, then a WebSocket with `hello`, envelopes, acks and
a `disconnect` asking for a refresh."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from bot.demo.fake_slack import FakeSlack
from bot.slack.views.admin import CONFIRM_ACTION
from tests.fakes.socket_mode import FakeSocketMode
from tests.fault_helpers import wait_until
from tests.slack_requests import block_actions, slash_command
from tests.test_serve import free_port

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

AIUSAGE = str(Path(sys.executable).with_name("aiusage"))
# Slack gives up on an envelope after 3 s; a healthy client answers in milliseconds.
ACK_BUDGET_S = 0.3


@pytest.fixture
def socket_slack(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    """A Socket Mode endpoint that the fake Web API's apps.connections.open points to."""
    socket = FakeSocketMode().start()
    fake_slack.socket_mode_url = socket.url
    yield socket
    socket.stop()


def environment(settings, fake_slack: FakeSlack, app_token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIUSAGE_", "SLACK_"))}
    return {
        **env,
        "AIUSAGE_DATABASE_URL": settings.database_url,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_APP_TOKEN": app_token,
    }


def command(fake: FakeSlack, text: str, user_id: str, reply_to: str) -> dict[str, str]:
    """A slash command's payload as Socket Mode carries it: the form fields as an object."""
    form = slash_command(text, user_id=user_id, response_url=fake.response_url(reply_to))
    return dict(parse_qsl(form))


def replies(fake: FakeSlack, name: str) -> list[dict]:
    return [c.params for c in fake.calls_to("response_url") if c.path == f"/response/{name}"]


def test_every_envelope_is_acknowledged_at_once_also_the_first_after_a_refresh(
    settings, fake_slack, socket_slack
):
    env = environment(settings, fake_slack, fake_slack.app_token)
    server = subprocess.Popen(
        [AIUSAGE, "serve", "--socket-mode", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        socket_slack.wait_connections(1, timeout=30)
        first = socket_slack.send("slash_commands", command(fake_slack, "help", "UALICE", "a1"))
        assert socket_slack.wait_ack(first).ack_seconds < 2  # the first ever: imports warm up
        fake_slack.wait_for("response_url")
        assert "`/aiusage me`" in replies(fake_slack, "a1")[0]["blocks"][0]["text"]["text"]

        # A click on a confirm button for a retirement that does not exist: acknowledged at
        # once, refused afterwards through response_url.
        click = json.loads(
            dict(
                parse_qsl(
                    block_actions(
                        CONFIRM_ACTION,
                        "999'; DROP TABLE x",
                        response_url=fake_slack.response_url("c1"),
                    )
                )
            )["payload"]
        )
        clicked = socket_slack.wait_ack(
            socket_slack.send("interactive", click, response_payload=False)
        )
        assert clicked.ack == {"envelope_id": clicked.envelope_id}
        fake_slack.wait_for("response_url", 2)

        for round_ in range(3):
            socket_slack.refresh()
            socket_slack.wait_connections(round_ + 2)
            envelope = socket_slack.send(
                "slash_commands", command(fake_slack, "help", "UALICE", f"r{round_}")
            )
            acked = socket_slack.wait_ack(envelope, timeout=5)
            assert acked.ack_seconds < ACK_BUDGET_S, f"refresh {round_}: {acked.ack_seconds:.3f} s"
            assert acked.connection == round_ + 1
        # The app closed each replaced connection itself rather than waiting for Slack to
        # (the last close may land just after the ack on its successor).
        wait_until(
            "three replaced connections closed", lambda: len(socket_slack.closed_by_client) >= 3, 5
        )
        assert sorted(socket_slack.closed_by_client) == [0, 1, 2]

        # SIGTERM while a command is being worked on: the reply still goes out, then exit 0.
        fake_slack.delay("users.info", 1.5)
        slow = socket_slack.send("slash_commands", command(fake_slack, "me", "UBOB", "slow"))
        socket_slack.wait_ack(slow)
        fake_slack.wait_for("users.info")
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        [reply] = replies(fake_slack, "slow")
        assert reply["response_type"] == "ephemeral"
    finally:
        if server.poll() is None:
            server.kill()
        output = server.communicate()[0]
    assert "Traceback" not in output, output


def test_a_refused_app_token_stops_with_one_clear_line(settings, fake_slack, socket_slack):
    env = environment(settings, fake_slack, "xapp-1-revoked'\"<@U1>")
    done = subprocess.run(
        [AIUSAGE, "serve", "--socket-mode", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == "aiusage: SLACK_APP_TOKEN: Slack refused the app token (invalid_auth)"
    assert "Traceback" not in done.stderr and "revoked" not in done.stderr
    assert [line for line in lines if " ERROR " in line or line.startswith("aiusage:")] == [
        lines[-1]
    ]
    assert socket_slack.connections == []

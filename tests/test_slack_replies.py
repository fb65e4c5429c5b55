"""Replies sent after the ack, through the request's `response_url`: a 429 is waited out and
a connection that never reached Slack tried again; a 5xx is tried again only for a reply
that replaces the original, because a new reply sent twice shows twice. What still did not
arrive is logged."""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fault_helpers import wait_until
from tests.slack_requests import slash_command

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


def first_sight_me(slack, response_url: str = "late") -> None:
    """`/aiusage me` from someone the app has not met, so that it answers after the ack."""
    response = slack.command("me", response_url=response_url)
    assert response.status_code == 200 and not response.content


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_an_answer_waits_out_a_429_and_arrives_once(slack):
    slack.fake.fail("response_url", status=429, retry_after=1)
    first_sight_me(slack)
    refused, delivered = slack.fake.wait_for("response_url", 2)
    assert refused.params == delivered.params
    assert "Your AI usage" in delivered.params["text"]
    time.sleep(0.3)
    assert len(slack.fake.calls_to("response_url")) == 2


@pytest.mark.parametrize("header", ["99999999", "31", "-5", "soon", "nan"])
def test_a_reply_limited_past_reason_is_given_up_at_once_not_slept_on(slack, caplog, header):
    slack.fake.fail("response_url", status=429, retry_after=header)
    started = time.monotonic()
    first_sight_me(slack)
    wait_until("the warning", lambda: warnings(caplog))
    assert time.monotonic() - started < 3  # 99999999 s was slept, and -5 raised
    [line] = warnings(caplog)
    assert "did not reach the caller" in line and "Slack answered 429" in line
    assert len(slack.fake.calls_to("response_url")) == 1


def test_a_new_answer_slack_fails_with_a_503_is_not_risked_twice(slack, caplog):
    slack.fake.fail("response_url", status=503)
    first_sight_me(slack)
    wait_until("the warning", lambda: warnings(caplog))
    assert len(slack.fake.calls_to("response_url")) == 1  # no apology on top of it either
    [line] = warnings(caplog)
    assert line.startswith("the reply to UALICE's command did not reach the caller: ")
    assert "Slack answered 503" in line and "/response/" not in line  # the URL is a secret


def test_a_reply_that_replaces_the_original_is_sent_again_after_a_503(slack):
    slack.ask("forget")
    slack.fake.fail("response_url", status=503)
    assert slack.click("aiusage_forget_cancel", "self").status_code == 200
    wait_until("the click's reply, sent again", lambda: len(slack.responses("click")) == 2)
    failed, replaced = slack.responses("click")
    assert failed == replaced and replaced["replace_original"] is True
    assert "Nothing was deleted" in replaced["text"]


def recorder(bodies: list[bytes]) -> type[BaseHTTPRequestHandler]:
    """A response_url's far side that takes every reply."""

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: object) -> None:
            pass

    return Recorder


def test_a_response_url_that_refuses_connections_is_tried_until_it_listens(slack):
    """Refused means Slack never saw it, so even a new reply is safe to send again: three
    times more over 3.5 to 6.5 s. Bolt's `respond` tried once more within 1.5 s."""
    # Bound but not listening: connections are refused, and no other process's connection
    # can take the port meanwhile (a port merely picked free was, once, under a busy CI).
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    port = reserved.getsockname()[1]
    body = slash_command("me", response_url=f"http://127.0.0.1:{port}/late")
    assert slack.post(body).status_code == 200
    time.sleep(2.0)
    bodies: list[bytes] = []
    server = ThreadingHTTPServer(("127.0.0.1", port), recorder(bodies), bind_and_activate=False)
    server.socket.close()
    server.socket = reserved
    server.server_activate()
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    try:
        [answer] = wait_until("the answer", lambda: bodies, timeout=10)
        assert b"Your AI usage" in answer
    finally:
        server.shutdown()
        server.server_close()

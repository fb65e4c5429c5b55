"""Bodies that arrive slowly, partly or never, over a real socket to the served app: a client
gone mid-body is a line in the log, not an error; a body not whole in time is 408; and a key
revoked while its request's body was still arriving stores nothing."""

from __future__ import annotations

import logging
import socket
import threading
import time
from datetime import date
from urllib.parse import urlsplit

import orjson
import pytest

import bot.api.ingest
import bot.web
from storage.integrations import revoke_integration
from tests.builders import event
from tests.readback import daily_usage

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

BODY = orjson.dumps({"events": [event(event_id=f"slow-{i}") for i in range(3)]})


def begin(base_url: str, path: str, key: str, content_type: str = "application/json"):
    """A connection that has sent a request's headers and the first ten bytes of BODY."""
    address = urlsplit(base_url)
    connection = socket.create_connection((address.hostname, address.port), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(BODY)}\r\n"
        "Connection: close\r\n\r\n"
    )
    connection.sendall(head.encode() + BODY[:10])
    return connection


def answer(connection: socket.socket) -> tuple[int, bytes]:
    """The status and body of the response, read to the end."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    connection.close()
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture
def uvicorn_errors():
    """What uvicorn logs as errors (its loggers do not reach pytest's capture)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/v1/events", "application/json"), ("/v1/logs", "application/json")],
)
def test_a_client_gone_mid_body_is_a_line_in_the_log_not_an_error(
    live_server, api_key, db, caplog, uvicorn_errors, path, content_type
):
    caplog.set_level(logging.INFO, logger="aiusage.http")
    begin(live_server, path, api_key, content_type).close()
    wait_for(lambda: "the client left before its body was whole" in caplog.text)
    assert [r.getMessage() for r in uvicorn_errors] == []
    assert daily_usage(db, date(2026, 1, 1), date(2026, 12, 31)) == []


def test_a_body_not_whole_in_time_is_408(live_server, api_key, db, monkeypatch):
    monkeypatch.setattr(bot.web, "BODY_TIMEOUT_S", 0.3)
    connection = begin(live_server, "/api/v1/events", api_key)
    status, body = answer(connection)
    assert (status, orjson.loads(body)) == (408, {"error": "body not whole within 0.3 s"})
    assert daily_usage(db, date(2026, 1, 1), date(2026, 12, 31)) == []


def test_a_key_revoked_while_the_body_arrives_stores_nothing(
    live_server, api_key, db, now, monkeypatch
):
    checked = threading.Event()
    real_authenticate = bot.api.ingest.authenticate

    def authenticate(*args):
        integration = real_authenticate(*args)
        checked.set()
        return integration

    monkeypatch.setattr(bot.api.ingest, "authenticate", authenticate)
    connection = begin(live_server, "/api/v1/events", api_key)
    assert checked.wait(10)  # the key was good when the headers came
    revoke_integration(db, "claude-code", now)
    connection.sendall(BODY[10:])
    status, _ = answer(connection)
    assert status == 401
    assert daily_usage(db, date(2026, 1, 1), date(2026, 12, 31)) == []

"""`/readyz` beside `/healthz`, draining on SIGTERM, and the logs `serve` writes."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.logs import RequestIds, Scrub, Text, configure_logging
from bot.settings import load_settings
from tests.slack_requests import SIGNING_SECRET, signed_headers, slash_command
from tests.test_replicas import AIUSAGE, env_for, start, wait_ready
from tests.test_serve import free_port

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

BOT_TOKEN = "xoxb-1111-2222-readiness-secret"


def test_readyz_is_ready_only_with_a_current_schema(client, db):
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/healthz").status_code == 200
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"] == "database schema is not at this version's migrations"
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_sigterm_turns_readyz_503_first_then_drains_and_exits_0(database_url, tmp_path):
    port = free_port()
    env = env_for(database_url, AIUSAGE_DRAIN_SECONDS="4")
    with (tmp_path / "serve.log").open("w") as out:
        server = subprocess.Popen(
            [AIUSAGE, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(port)
        base = f"http://127.0.0.1:{port}"
        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        ready = httpx.get(f"{base}/readyz", timeout=2)
        assert ready.status_code == 503 and ready.json()["error"] == "draining: shutting down"
        assert httpx.get(f"{base}/healthz", timeout=2).status_code == 200  # still serving
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()


def test_json_logs_carry_request_ids_and_never_a_secret(database_url, tmp_path):
    port = free_port()
    env = env_for(
        database_url,
        AIUSAGE_LOG_FORMAT="json",
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="signing-secret-0123456789",
    )
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [AIUSAGE, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(port)
        base = f"http://127.0.0.1:{port}"
        mine = httpx.get(f"{base}/healthz", headers={"X-Request-Id": "req-42.a"})
        assert mine.headers["x-request-id"] == "req-42.a"
        hostile = httpx.post(
            f"{base}/api/v1/events?key={BOT_TOKEN}",
            headers={
                "X-Request-Id": 'x"; DROP TABLE usage_events; --' + "y" * 300,
                "Authorization": f"Bearer {BOT_TOKEN}",
            },
            json={"event_id": "e"},
        )
        assert hostile.status_code == 401
        assert len(hostile.headers["x-request-id"]) == 32  # replaced by one of ours
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    [health] = [line for line in lines if line.get("request_id") == "req-42.a"]
    assert health["path"] == "/healthz" and health["status"] == 200
    [events] = [line for line in lines if line.get("path") == "/api/v1/events"]
    assert events["status"] == 401 and "key=" not in json.dumps(events)
    assert BOT_TOKEN not in log.read_text() and "signing-secret-0123456789" not in log.read_text()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_response_url_never_reaches_the_logs(database_url, tmp_path, fake_slack, log_format):
    # Whoever holds a response_url can post as the app for half an hour; slack_sdk names the
    # URL when it retries a 429 or a dropped connection.
    port = free_port()
    env = env_for(
        database_url,
        AIUSAGE_LOG_FORMAT=log_format,
        SLACK_API_URL=fake_slack.api_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
    )
    secret_path = "commands/T0001/1234567890/ZZwebhookSecretZZ"
    fake_slack.fail("response_url", status=429, retry_after=1)
    fake_slack.fail("response_url", drop_connection=True)
    log = tmp_path / "serve.log"
    server = start(env, port, log)
    try:
        wait_ready(port)
        body = slash_command("help", response_url=fake_slack.response_url(secret_path))
        answer = httpx.post(
            f"http://127.0.0.1:{port}/slack/events", content=body, headers=signed_headers(body)
        )
        assert answer.status_code == 200
        fake_slack.wait_for("response_url", 2, timeout=20)  # the 429, then the reply
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    written = log.read_text()
    assert "ZZwebhookSecretZZ" not in written
    assert "commands/T0001/[redacted]" in written  # the retry was logged, its secret not
    assert "`token`" not in written  # Bolt's noise about the token we hand it on purpose


def test_text_logs_write_one_line_a_record_whatever_the_path(database_url, tmp_path):
    # The access line names the path, which uvicorn has percent-decoded.
    port = free_port()
    log = tmp_path / "serve.log"
    server = start(env_for(database_url, AIUSAGE_LOG_FORMAT="text"), port, log)
    forged = "2026-01-01 00:00:00,000 INFO aiusage.jobs: FORGED"
    try:
        wait_ready(port)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/x%0a{forged.replace(' ', '%20')}").status_code == 404
        assert httpx.get(f"{base}/healthz%00").status_code == 404
        assert httpx.get(f"{base}/y%0d%1b[2J%e2%80%a8z").status_code == 404
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    written = log.read_bytes().decode()
    lines = written.split("\n")
    assert not [line for line in lines if line.startswith(forged)], written
    assert f"GET /x\\n{forged} 404" in written
    assert "GET /healthz\\x00 404" in written and "\x00" not in written
    assert "GET /y\\r\\x1b[2J\\u2028z 404" in written
    assert not set(written) & {"\r", "\x1b", "\u2028"}


def test_a_text_record_is_one_line_traceback_and_all():
    try:
        raise ValueError("bad\nERROR aiusage: forged")
    except ValueError:
        failure = sys.exc_info()
    record = logging.LogRecord("aiusage", logging.ERROR, __file__, 1, "on %s", ("a\x00b",), failure)
    line = Text("%(levelname)s %(name)s: %(message)s").format(record)
    assert "\n" not in line and "\x00" not in line
    assert line.startswith("ERROR aiusage: on a\\x00b\\nTraceback (most recent call last):")
    assert "ValueError: bad\\nERROR aiusage: forged" in line


def test_scrub_removes_known_secrets_and_anything_shaped_like_a_token():
    scrub = Scrub(["s3cret-value", "short"])
    text_ = (
        "calling with s3cret-value, xoxb-123-456-abc, xapp-1-A1-xyz, Authorization: Bearer "
        "k_live.abc/def= and postgresql+psycopg://app:hunter2@db/aiusage; short stays"
    )
    assert scrub.scrub(text_) == (
        "calling with [redacted], [redacted], [redacted], Authorization: [redacted] and "
        "[redacted]db/aiusage; short stays"
    )


def test_scrub_removes_a_database_password_given_as_a_query_parameter():
    """libpq reads `?password=` (and `sslpassword=`) as well as `user:password@`."""
    settings = load_settings(
        AIUSAGE_DATABASE_URL="postgresql+psycopg://app@db/aiusage?password=hunter2&sslmode=require"
    )
    scrub = Scrub(settings.secret_values())
    assert scrub.scrub("connecting to app@db as hunter2") == "connecting to app@db as [redacted]"
    assert Scrub([]).scrub("postgresql+psycopg://app@db/x?sslmode=require&PASSWORD=pw1&a=b") == (
        "postgresql+psycopg://app@db/x?sslmode=require[redacted]&a=b"
    )


def test_every_text_field_of_a_json_line_is_scrubbed_like_its_message(capsys):
    # The access line's `path` was copied as the client sent it: a token or a webhook path
    # the message showed as [redacted] was written in full beside it. The request id is the
    # client's too when it is short and plain, as a token can be.
    token = "xoxb-1111-2222-secretvalue"

    async def anything(_request):
        return PlainTextResponse("no", 404)

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("json", [token])
        app = RequestIds(Starlette(routes=[Route("/{rest:path}", anything)]))
        with TestClient(app) as client:
            client.get(f"/x/{token}/commands/T1/B2/hooksecret", headers={"X-Request-Id": token})
        written = capsys.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    [access] = [json.loads(line) for line in written.splitlines() if "aiusage.access" in line]
    assert access["path"] == "/x/[redacted]/commands/T1/[redacted]"
    assert access["message"] == "GET /x/[redacted]/commands/T1/[redacted] 404 " + (
        f"{access['ms']:.1f} ms"
    )
    assert access["request_id"] == "[redacted]"
    assert token not in written and "hooksecret" not in written


def test_a_json_line_stays_one_line_whatever_the_path(capsys):
    # JSON leaves DEL, C1 controls and U+2028/U+2029 raw, and `str.splitlines()` (as some
    # log viewers) breaks lines at them: a path could start a forged record of its own.
    async def anything(_request):
        return PlainTextResponse("no", 404)

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("json", [])
        app = RequestIds(Starlette(routes=[Route("/{rest:path}", anything)]))
        with TestClient(app) as client:
            client.get('/a%e2%80%a8{"level": "info", "message": "FORGED"}%c2%85b%7f')
        written = capsys.readouterr().err
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert written.splitlines() == written.split("\n")[:-1]
    [access] = [json.loads(line) for line in written.splitlines() if "aiusage.access" in line]
    assert access["path"] == '/a\u2028{"level": "info", "message": "FORGED"}\x85b\x7f'
    assert "\\u2028" in written and "\\u0085" in written and "\\u007f" in written

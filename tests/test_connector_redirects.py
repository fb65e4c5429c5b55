"""Redirects from a vendor's API: a key goes to the origin it was set for and nowhere else
(httpx itself drops only `Authorization`, so Anthropic's `x-api-key` went anywhere), while
signed download links, which carry no key, may still lead to storage elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.connectors.registry import run_connectors
from bot.settings import load_settings
from storage.connectors import connector_states
from tests.connector_helpers import D1, claude_record, copilot_record, cursor_record, figures
from tests.fakes.tls import loopback_tls
from tests.fakes.vendors import FakeAnthropic, FakeCursor, FakeGitHub, FakeVendor

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

NOW = datetime(2026, 11, 20, tzinfo=UTC)
CLAUDE_PATH = "/v1/organizations/usage_report/claude_code"
COPILOT_PATH = "/orgs/acme/copilot/metrics/reports/users-1-day"


def vendor(name: str, monkeypatch, **fake) -> tuple[FakeVendor, str, str]:
    """A fake of `name`'s API with the connector's settings pointed at it; its key, and the
    path the connector asks first."""
    if name == "claude-code":
        anthropic = FakeAnthropic(records={D1: [claude_record("dev@example.com", D1)]}, **fake)
        monkeypatch.setenv("AIUSAGE_ANTHROPIC_ADMIN_KEY", anthropic.key)
        monkeypatch.setenv("AIUSAGE_ANTHROPIC_API_URL", anthropic.url)
        return anthropic, anthropic.key, CLAUDE_PATH
    if name == "cursor":
        cursor = FakeCursor(records=[cursor_record("dev@example.com", D1)], **fake)
        monkeypatch.setenv("AIUSAGE_CURSOR_API_KEY", cursor.key)
        monkeypatch.setenv("AIUSAGE_CURSOR_API_URL", cursor.url)
        return cursor, cursor.key, "/teams/daily-usage-data"
    github = FakeGitHub(users={D1: [[copilot_record("octocat", D1)]]}, **fake)
    monkeypatch.setenv("AIUSAGE_COPILOT_TOKEN", github.token)
    monkeypatch.setenv("AIUSAGE_COPILOT_ORG", github.org)
    monkeypatch.setenv("AIUSAGE_GITHUB_API_URL", github.url)
    return github, github.token, COPILOT_PATH


def pull(db, name: str):
    [result] = run_connectors(load_settings(), db, lambda: NOW, [name], D1, D1, retries=0)
    return result


@pytest.mark.parametrize("name", ["claude-code", "cursor", "copilot"])
@pytest.mark.parametrize("there", ["another host", "plain HTTP on the same host"])
def test_a_redirect_off_the_vendors_origin_is_not_followed(
    db, settings, monkeypatch, tmp_path, name, there
):
    # The vendor (or anything between it and us) answers 307 to somewhere else, which would
    # answer as the vendor does. Nothing, key or not, is sent there; the pull fails naming it.
    elsewhere, _, path = vendor(name, monkeypatch)
    if there == "another host":
        api, key, _ = vendor(name, monkeypatch)
        target = elsewhere.url.replace("127.0.0.1", "localhost")
    else:  # the API over HTTPS, sent down to plain HTTP on the same host
        context, trusted = loopback_tls(tmp_path)
        monkeypatch.setenv("SSL_CERT_FILE", str(trusted))
        api, key, _ = vendor(name, monkeypatch, tls=context)
        target = elsewhere.url
    try:
        api.fail(path, 307, headers={"location": f"{target}{path}?day={D1}&starting_at={D1}"})
        result = pull(db, name)
    finally:
        api.stop()
        elsewhere.stop()
    assert elsewhere.calls == []
    assert not result.ok
    error = result.error or ""
    asked = api.url.split("://")[1] + path
    assert f"redirected {asked} to {target}, which was not followed" in error
    assert f"its key is sent to {api.url} only" in error
    assert key not in error
    assert connector_states(db)[name].failing
    assert figures(db) == {}


def test_a_redirect_within_the_origin_is_followed_with_the_key(db, settings, monkeypatch):
    anthropic, _, _ = vendor("claude-code", monkeypatch)
    moved = f"{anthropic.url}/v1/moved/claude_code?starting_at={D1}&limit=1000"
    anthropic.fail(CLAUDE_PATH, 308, headers={"location": moved})
    try:
        result = pull(db, "claude-code")
    finally:
        anthropic.stop()
    assert result.ok and result.rows == 1  # the fake answers 401 to a request without the key
    assert [call.path for call in anthropic.calls] == [CLAUDE_PATH, "/v1/moved/claude_code"]


def test_a_signed_link_may_lead_to_storage_elsewhere_without_the_token(db, settings, monkeypatch):
    storage, _, _ = vendor("copilot", monkeypatch)  # serves the same files
    github, token, _ = vendor("copilot", monkeypatch)  # the API the connector is set to
    link = f"/download/users/{D1}/0"
    target = f"{storage.url.replace('127.0.0.1', 'localhost')}{link}?sig=s3cr3t-signature"
    github.fail(link, 302, headers={"location": target})
    try:
        result = pull(db, "copilot")
    finally:
        github.stop()
        storage.stop()
    assert result.ok and result.rows == 1
    assert [call.path for call in storage.calls] == [link]
    assert all(token not in str(call.headers) for call in storage.calls)
    assert figures(db)[("copilot:octocat", "copilot")].suggestions_shown == 10


def test_a_redirect_with_nowhere_to_go_is_a_failure_named_by_its_status(db, settings, monkeypatch):
    # S3 answers a bucket asked for in the wrong region so: 301 and no Location. It was taken
    # as the answer itself, and failed later as an answer of the wrong shape.
    anthropic, _, _ = vendor("claude-code", monkeypatch)
    anthropic.fail(CLAUDE_PATH, 301, body={"message": "use the other endpoint"})
    try:
        result = pull(db, "claude-code")
    finally:
        anthropic.stop()
    assert not result.ok
    assert "Anthropic answered HTTP 301 at" in (result.error or "")
    assert "use the other endpoint" in (result.error or "")

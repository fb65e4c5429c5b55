"""A vendor's pages that come round again, and days too large to hold: a day is held whole
before it is written and its records add up, so a page read twice would count twice, and
pages without end would grow the replica until the kernel killed it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.connectors.claude_code import ClaudeCodeConnector
from bot.connectors.copilot import CopilotConnector
from bot.connectors.registry import run_connectors
from bot.settings import load_settings
from storage.connectors import connector_states
from tests.connector_helpers import D1, D2, claude_record, copilot_record, figures

NOW = datetime(2026, 11, 20, tzinfo=UTC)
CLAUDE_PATH = "/v1/organizations/usage_report/claude_code"


def pull(db, name: str, first=D1, last=D1, **client):
    [result] = run_connectors(load_settings(), db, lambda: NOW, [name], first, last, **client)
    return result


def test_claude_code_stops_at_a_page_cursor_it_was_given_before(db, settings, anthropic):
    # Page 2 names itself as the next page, and then the report ends: read on, its records
    # would be stored twice over.
    first, second = (claude_record(f"dev{n}@example.com", D1) for n in (1, 2))
    anthropic.fail(CLAUDE_PATH, 200, body={"data": [first], "has_more": True, "next_page": "p2"})
    anthropic.fail(CLAUDE_PATH, 200, body={"data": [second], "has_more": True, "next_page": "p2"})
    anthropic.fail(CLAUDE_PATH, 200, body={"data": [second], "has_more": False})
    result = pull(db, "claude-code")
    assert not result.ok
    assert (
        "Anthropic's report for 2026-11-16 gave, after page 2, a next_page it had given before"
        in (result.error or "")
    )
    assert [call.query.get("page") for call in anthropic.calls] == [None, "p2"]
    assert figures(db) == {}
    assert connector_states(db)["claude-code"].failing


def test_claude_code_holds_a_day_to_its_record_limit(db, settings, anthropic, monkeypatch):
    monkeypatch.setattr(ClaudeCodeConnector, "max_day_records", 5, raising=False)
    anthropic.records = {
        D1: [claude_record("dev@example.com", D1)],
        D2: [claude_record(f"dev{n}@example.com", D2) for n in range(7)],  # pages of 2
    }
    result = pull(db, "claude-code", D1, D2)
    assert not result.ok
    assert "Anthropic's report for 2026-11-17 has more than 5 records" in (result.error or "")
    assert len([c for c in anthropic.calls if c.query["starting_at"] == str(D2)]) == 3
    assert set(figures(db)) == {("dev@example.com", "claude-code")}  # the day before stays


def test_copilot_refuses_a_day_that_lists_a_download_link_twice(db, settings, github):
    github.users = {D1: [[copilot_record("octocat", D1)]]}
    link = f"{github.url}/download/users/{D1}/0?sig=s3cr3t-signature"
    reports = "/orgs/acme/copilot/metrics/reports/users-1-day"
    github.fail(reports, 200, body={"download_links": [link, link], "report_day": str(D1)})
    result = pull(db, "copilot")
    assert not result.ok
    assert "users-1-day answer for 2026-11-16 lists a download link twice" in (result.error or "")
    assert "s3cr3t" not in (result.error or "")
    assert figures(db) == {}


def test_copilot_holds_a_day_to_its_record_limit(db, settings, github, monkeypatch):
    # Its files are read whole and kept until the day is written, as Claude Code's pages.
    monkeypatch.setattr(CopilotConnector, "max_day_records", 3, raising=False)
    github.users = {
        D1: [[copilot_record("octocat", D1)]],
        D2: [[copilot_record(f"dev{n}", D2) for n in range(2)]] * 2,  # two files of 2
    }
    result = pull(db, "copilot", D1, D2)
    assert not result.ok
    assert "GitHub's report for 2026-11-17 has more than 3 records" in (result.error or "")
    assert set(figures(db)) == {("copilot:octocat", "copilot")}  # the day before stays


def test_copilot_holds_a_download_to_the_answer_limit_as_it_inflates(db, settings, github):
    # A report file is read line by line, but its records are kept: a file small on the wire
    # that inflates past the limit is refused as a whole answer is.
    github.users = {D1: [[copilot_record(f"dev{n}", D1) for n in range(300)]]}
    github.gzip = True
    result = pull(db, "copilot", sleep=lambda _s: None, max_report_bytes=64 * 1024)
    assert not result.ok
    assert "sent an answer larger than 65,536 bytes" in (result.error or "")
    assert figures(db) == {}

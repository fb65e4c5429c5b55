"""Connectors against fake vendor APIs over loopback HTTP: the real httpx client, the real
command line, both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

import jobs.connectors
from bot.connectors.registry import run_connectors
from bot.settings import load_settings
from storage.connectors import connector_states, copilot_teams
from tests.connector_helpers import D1, D2, claude_record, copilot_record, cursor_record, figures

# --- copilot -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_copilot_pulls_days_through_signed_links_and_reads_teams(run, db, github):
    github.users = {
        D1: [[copilot_record("Octocat", D1)], [copilot_record("hubot", D1, 4, 1)]],
        D2: [[copilot_record("octocat", D2, 20, 0)]],
    }
    github.teams = {
        D2: [{"user_login": "Octocat", "day": "2026-11-17", "team_id": 1, "slug": "web"}]
    }
    code, out, err = run("connectors", "sync", "copilot", "--since", D1, "--until", D2)
    assert (code, err) == (0, "")
    assert "copilot: 3 rows for 2 days" in out
    stored = figures(db)
    assert stored[("copilot:octocat", "copilot")].suggestions_shown == 30
    assert stored[("copilot:octocat", "copilot")].requests == 3
    assert stored[("copilot:hubot", "copilot")].suggestions_shown == 4
    assert copilot_teams(db) == {"web": ["octocat"]}
    # the token went to the API only, never to the signed download links
    assert all("authorization" not in c.headers for c in github.calls if "/download/" in c.path)


@pytest.mark.postgres
def test_copilot_revised_day_replaces_and_a_person_dropped_from_it_is_cleared(run, db, github):
    github.users = {D1: [[copilot_record("octocat", D1), copilot_record("hubot", D1)]]}
    assert run("connectors", "sync", "copilot", "--since", D1, "--until", D1)[0] == 0
    github.users = {D1: [[copilot_record("octocat", D1, 50)]]}
    assert run("connectors", "sync", "copilot", "--since", D1, "--until", D1)[0] == 0
    stored = figures(db)
    assert stored[("copilot:octocat", "copilot")].suggestions_shown == 50
    assert ("copilot:hubot", "copilot") not in stored


def test_copilot_expired_link_is_asked_for_again(run, db, github):
    github.users = {D1: [[copilot_record("octocat", D1)]]}
    github.fail(f"/download/users/{D1}/0", 403, body={"message": "Request has expired"})
    code, _, err = run("connectors", "sync", "copilot", "--since", D1, "--until", D1)
    assert (code, err) == (0, "")
    assert len(github.calls_to("/orgs/acme/copilot/metrics/reports/users-1-day")) == 2
    assert figures(db)[("copilot:octocat", "copilot")].suggestions_shown == 10


def test_copilot_stops_quietly_at_a_day_not_ready_and_resumes_from_it(run, db, github):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    before = yesterday - timedelta(days=1)
    github.users = {before: [[copilot_record("octocat", before)]]}
    assert run("connectors", "sync", "copilot", "--since", before)[0] == 0
    assert connector_states(db)["copilot"].last_day == before


def test_copilot_wrong_token_fails_clearly_without_showing_it(run, db, github, monkeypatch):
    monkeypatch.setenv("AIUSAGE_COPILOT_TOKEN", "ghp_wrong_and_secret")
    code, out, err = run("connectors", "sync", "copilot", "--since", D1, "--until", D1)
    assert code == 1
    assert "GitHub refused the key (HTTP 401): Bad credentials" in err
    code, listed, _ = run("connectors", "list")
    assert "copilot: on" in listed and "last error" in listed and "HTTP 401" in listed
    assert "ghp_wrong_and_secret" not in out + err + listed


def test_copilot_team_report_refused_still_stores_usage(run, db, github):
    github.users = {D1: [[copilot_record("octocat", D1)]]}
    github.teams_status = 403
    assert run("connectors", "sync", "copilot", "--since", D1, "--until", D1)[0] == 0
    assert copilot_teams(db) == {}
    assert ("copilot:octocat", "copilot") in figures(db)


@pytest.mark.postgres
def test_cursor_splits_long_ranges_into_30_day_windows(run, db, cursor_api):
    start = date(2026, 9, 1)
    cursor_api.records = [
        cursor_record("ada@example.com", start + timedelta(days=n)) for n in (0, 45)
    ]
    code, _out, err = run("connectors", "sync", "cursor", "--since", start, "--until", D1)
    assert (code, err) == (0, "")
    assert len(cursor_api.calls_to("/teams/daily-usage-data")) == 3  # 77 days
    totals = figures(db, start, D1)[("ada@example.com", "cursor")]
    assert totals.suggestions_shown == 20


def test_cursor_429_waits_as_told_then_succeeds(run, db, cursor_api):
    cursor_api.records = [cursor_record("ada@example.com", D1)]
    cursor_api.fail("/teams/daily-usage-data", 429, headers={"Retry-After": "1"})
    started = datetime.now(UTC)
    code, _, err = run("connectors", "sync", "cursor", "--since", D1, "--until", D1)
    assert (code, err) == (0, "")
    assert (datetime.now(UTC) - started).total_seconds() >= 1
    assert len(cursor_api.calls_to("/teams/daily-usage-data")) == 2


def test_cursor_hostile_values_are_named_and_the_rest_kept(run, db, cursor_api):
    # The connectors keep the bounds every door keeps (storage/bounds.py).
    cursor_api.records = [
        cursor_record("ada@example.com", D1, tabs=10**12),  # the largest figure accepted
        cursor_record("cy@example.com", D1, tabs=10**18),
        {**cursor_record('=HYPERLINK("x")@example.com', D1)},
        {**cursor_record("bo@example.com", D1), "totalTabsShown": -5},
    ]
    code, out, _ = run("connectors", "sync", "cursor", "--since", D1, "--until", D1)
    assert code == 0 and "3 rejected" in out
    stored = figures(db)
    assert stored[("ada@example.com", "cursor")].suggestions_shown == 10**12
    assert [who for who, _ in stored] == ["ada@example.com"]


@pytest.mark.one_database
def test_cursor_accepted_above_shown_is_stored_as_shown_as_import_stores_it(run, db, cursor_api):
    cursor_api.records = [
        {**cursor_record("ada@example.com", D1, tabs=3), "totalTabsAccepted": 300,
         "totalApplies": 1, "totalAccepts": 80},
    ]  # fmt: skip
    code, _, err = run("connectors", "sync", "cursor", "--since", D1, "--until", D1)
    assert (code, err) == (0, "")
    totals = figures(db)[("ada@example.com", "cursor")]
    assert (totals.suggestions_shown, totals.suggestions_accepted) == (380, 380)


# --- claude code ---------------------------------------------------------------------------


@pytest.mark.postgres
def test_claude_code_follows_pages_and_reads_cost_in_cents(run, db, anthropic):
    anthropic.records = {
        D1: [claude_record(f"dev{n}@example.com", D1) for n in range(5)],
        D2: [claude_record("dev0@example.com", D2, cents=1)],
    }
    code, out, err = run("connectors", "sync", "claude-code", "--since", D1, "--until", D2)
    assert (code, err) == (0, "")
    assert "6 rows for 2 days" in out
    assert len(anthropic.calls) == 3 + 1  # 5 records in pages of 2, then one page
    dev0 = figures(db)[("dev0@example.com", "claude-code")]
    assert dev0.cost_usd == pytest.approx(1.87)
    assert dev0.input_tokens == 2 * 1050  # cache reads are not new work
    assert (dev0.suggestions_shown, dev0.suggestions_accepted) == (20, 18)
    assert dev0.lines_accepted == 80
    assert (dev0.commits, dev0.pull_requests) == (4, 2)  # shipped work, summed over the days


def test_claude_code_adds_up_a_persons_records_of_several_terminals(run, db, anthropic):
    # Its report has a record per actor, day and terminal: each is a part of the day.
    anthropic.records = {
        D1: [
            claude_record("dev@example.com", D1, cents=100),
            claude_record("dev@example.com", D1, cents=50, terminal_type="cursor"),
        ]
    }
    code, _out, err = run("connectors", "sync", "claude-code", "--since", D1, "--until", D1)
    assert (code, err) == (0, "")
    assert figures(db)[("dev@example.com", "claude-code")].cost_usd == pytest.approx(1.5)


# --- as `aiusage import` stores it ---------------------------------------------------------


def test_a_repeated_record_is_stored_as_import_stores_it(run, db, github, tmp_path, monkeypatch):
    """A connector's figures are those `aiusage import` stores from the same report, and an
    import keeps the later of two records of a person's day. The connector added them up.
    In chunks of 2 here, so the later record replaces one of its own chunk and one of an
    earlier chunk, already written."""
    monkeypatch.setattr(jobs.connectors, "CHUNK_ROWS", 2)
    records = [
        copilot_record("octocat", D1, 10),
        copilot_record("hubot", D1, 3),
        copilot_record("octocat", D1, 7),
        copilot_record("Octocat", D1, 5),
    ]
    report = tmp_path / "copilot.ndjson"
    report.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert run("import", "copilot", report)[0] == 0
    imported = {who: totals.suggestions_shown for (who, _), totals in figures(db).items()}
    assert imported == {"copilot:octocat": 5, "copilot:hubot": 3}  # the later row counts
    github.users = {D1: [records[:2], records[2:]]}  # two files of the day
    code, _out, err = run("connectors", "sync", "copilot", "--since", D1, "--until", D1)
    assert (code, err) == (0, "")
    assert {who: totals.suggestions_shown for (who, _), totals in figures(db).items()} == imported


def test_claude_code_vendor_down_then_back(db, settings, anthropic, monkeypatch):
    anthropic.records = {D1: [claude_record("dev@example.com", D1)]}
    path = "/v1/organizations/usage_report/claude_code"
    anthropic.fail(path, 503, times=2)
    waits: list[float] = []
    results = run_connectors(
        load_settings(),
        db,
        lambda: datetime(2026, 11, 20, tzinfo=UTC),
        ["claude-code"],
        D1,
        D1,
        sleep=waits.append,
    )
    assert results[0].ok and results[0].rows == 1
    assert len(waits) == 2 and waits[1] > waits[0]
    anthropic.fail(path, 503, times=10)
    results = run_connectors(
        load_settings(),
        db,
        lambda: datetime(2026, 11, 20, tzinfo=UTC),
        ["claude-code"],
        D1,
        D1,
        sleep=waits.append,
    )
    assert not results[0].ok
    assert "answered HTTP 503" in (results[0].error or "")
    assert connector_states(db)["claude-code"].failing
    assert ("dev@example.com", "claude-code") in figures(db)  # what was stored stays

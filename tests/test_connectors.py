"""Connectors against fake vendor APIs over loopback HTTP: the real httpx client, the real
command line, both databases."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

import jobs.connectors
from bot.connectors.registry import run_connectors
from bot.settings import load_settings
from storage.connectors import connector_states, copilot_teams
from storage.usage_report import usage_report
from tests.fakes.vendors import cursor_ms

D1, D2, D3 = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)


def figures(db, start=D1, end=D3):
    """Stored figures per (who, tool): who is the identity, or the email."""
    return {
        ((line.identity or line.email or "").removeprefix("email:"), line.tool): line.totals
        for line in usage_report(db, start, end)
    }


def copilot_record(login: str, day: date, completions: int = 10, chats: int = 3) -> dict:
    return {
        "day": day.isoformat(),
        "user_login": login,
        "totals_by_feature": [
            {
                "feature": "code_completion",
                "code_generation_activity_count": completions,
                "code_acceptance_activity_count": completions // 2,
                "loc_added_sum": completions,
            },
            {"feature": "chat_panel_ask_mode", "user_initiated_interaction_count": chats},
        ],
    }


def claude_record(email: str, day: date, cents: int = 186, **extra) -> dict:
    return {
        "actor": {"type": "user_actor", "email_address": email},
        "date": f"{day.isoformat()}T00:00:00Z",
        "core_metrics": {
            "commits_by_claude_code": 2,
            "lines_of_code": {"added": 40, "removed": 5},
            "num_sessions": 3,
            "pull_requests_by_claude_code": 1,
        },
        "customer_type": "api",
        "terminal_type": "vscode",
        "model_breakdown": [
            {
                "model": "claude-sonnet-4",
                "estimated_cost": {"amount": cents, "currency": "USD"},
                "tokens": {"input": 1000, "output": 200, "cache_read": 5000, "cache_creation": 50},
            }
        ],
        "tool_actions": {"edit_tool": {"accepted": 9, "rejected": 1}},
        **extra,
    }


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


# --- cursor --------------------------------------------------------------------------------


def cursor_record(email: str, day: date, tabs: int = 10) -> dict:
    return {
        "date": cursor_ms(day),
        "email": email,
        "isActive": True,
        "totalTabsShown": tabs,
        "totalTabsAccepted": tabs // 2,
        "chatRequests": 2,
        "agentRequests": 1,
    }


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


def pull(db, name, **client):
    """One pull of `name` for D1, as the connectors' job makes it, with `client` knobs."""
    now = datetime(2026, 11, 20, tzinfo=UTC)
    [result] = run_connectors(load_settings(), db, lambda: now, [name], D1, D1, **client)
    return result


def test_a_vendor_that_trickles_its_answer_is_given_up_at_the_deadline(db, settings, cursor_api):
    # A byte every 50 ms: no read waits long enough to time out, and the whole answer would
    # take about 20 s. The pull gives up after its deadline instead of holding the
    # connectors' job (and its claim across replicas) for as long as the vendor likes.
    cursor_api.records = [cursor_record("ada@example.com", D1)]
    cursor_api.trickle = 0.05
    started = time.monotonic()
    result = pull(db, "cursor", sleep=lambda _s: None, retries=1, deadline=1.0)
    assert time.monotonic() - started < 8
    assert not result.ok
    assert "Cursor sent its answer too slowly: not whole after 1 s" in (result.error or "")
    assert len(cursor_api.calls) == 2  # retried once, as a timeout is
    assert connector_states(db)["cursor"].failing

    cursor_api.trickle = None  # the vendor recovers: the next pull is not held up
    result = pull(db, "cursor")
    assert result.ok and result.rows == 1


def test_a_report_download_that_trickles_is_fetched_again_then_given_up(db, settings, github):
    github.users = {D1: [[copilot_record("octocat", D1)]]}
    github.trickle, github.trickle_paths = 0.05, "/download/"
    started = time.monotonic()
    result = pull(db, "copilot", sleep=lambda _s: None, retries=0, deadline=1.0)
    assert time.monotonic() - started < 10
    assert not result.ok
    error = result.error or ""
    assert "report file 1 for 2026-11-16 could not be downloaded" in error
    assert "sent its answer too slowly" in error and "s3cr3t" not in error
    assert len(github.calls_to(f"/download/users/{D1}/0")) == 3  # a fresh link, twice
    assert ("copilot:octocat", "copilot") not in figures(db)

    github.trickle = None
    assert pull(db, "copilot").ok
    assert figures(db)[("copilot:octocat", "copilot")].suggestions_shown == 10


def test_an_answer_past_the_size_limit_is_refused_as_it_inflates(db, settings, cursor_api):
    # Counted once decoded: a compressed answer small on the wire can inflate a thousandfold,
    # and held whole it would grow the replica until the kernel killed it, every sync.
    cursor_api.records = [cursor_record(f"dev{n}@example.com", D1) for n in range(3000)]
    cursor_api.gzip = True
    result = pull(db, "cursor", sleep=lambda _s: None, max_bytes=64 * 1024)
    assert not result.ok
    assert "Cursor sent an answer larger than 65,536 bytes" in (result.error or "")
    assert len(cursor_api.calls) == 1  # the same answer again would not help
    assert connector_states(db)["cursor"].failing

    result = pull(db, "cursor")  # under the usual limit, a compressed answer is read as ever
    assert result.ok and result.rows == 3000


def test_a_window_too_large_to_take_whole_is_asked_for_in_halves(db, settings, cursor_api):
    # A month of a large team's usage can pass the limit; its days, asked for apart, do not.
    days = [D1 + timedelta(days=n) for n in range(4)]
    cursor_api.records = [
        cursor_record(f"dev{n}@example.com", day) for day in days for n in range(400)
    ]
    now = datetime(2026, 11, 25, tzinfo=UTC)
    [result] = run_connectors(
        load_settings(), db, lambda: now, ["cursor"], days[0], days[-1], max_bytes=160 * 1024
    )
    assert result.ok and result.rows == 1600
    asked = [orjson.loads(call.body) for call in cursor_api.calls]
    spans = [(a["endDate"] + 1 - a["startDate"]) // 86_400_000 for a in asked]
    assert spans == [4, 2, 2]  # the whole window, then its halves, which fit


def test_a_report_line_past_the_limit_is_refused_without_a_fresh_link(db, settings, github):
    padded = {**copilot_record("octocat", D1), "note": "x" * 8192}  # one line, 8 KB and more
    github.users = {D1: [[copilot_record("hubot", D1), padded]]}
    result = pull(db, "copilot", sleep=lambda _s: None, max_line=4096)
    assert not result.ok
    error = result.error or ""
    assert "GitHub report download sent a line longer than 4,096 bytes" in error
    assert "s3cr3t" not in error
    assert len(github.calls_to(f"/download/users/{D1}/0")) == 1

    assert pull(db, "copilot").ok  # lines of any sane length are read as ever
    assert figures(db)[("copilot:octocat", "copilot")].suggestions_shown == 10


# --- the command line ----------------------------------------------------------------------


def test_sync_exit_codes(run, db, anthropic, cursor_api, monkeypatch):
    assert run("connectors", "sync", "gemini")[0] == 2
    assert run("connectors", "sync", "kiro")[0] == 2  # not configured
    cursor_api.records = [cursor_record("ada@example.com", D1)]
    monkeypatch.setenv("AIUSAGE_ANTHROPIC_ADMIN_KEY", "sk-ant-admin-wrong")
    code, out, err = run("connectors", "sync", "all", "--since", D1, "--until", D1)
    assert code == 1
    assert "connector claude-code failed" in err and "refused the key (HTTP 401)" in err
    assert "sk-ant-admin-wrong" not in out + err
    assert "cursor: 1 rows" in out  # the other one still ran
    assert ("ada@example.com", "cursor") in figures(db)


def test_a_fresh_sync_without_dates_starts_four_weeks_back_then_keeps_the_lookback(
    run, db, anthropic
):
    assert run("connectors", "sync", "claude-code")[0] == 0
    days = [c.query["starting_at"] for c in anthropic.calls]
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    assert days[-1] == yesterday.isoformat() and len(days) == 28
    anthropic.calls.clear()
    assert run("connectors", "sync", "claude-code")[0] == 0
    assert [c.query["starting_at"] for c in anthropic.calls] == [
        (yesterday - timedelta(days=n)).isoformat() for n in (2, 1, 0)
    ]


def test_a_connector_that_cannot_start_fails_alone(run, db, cursor_api, monkeypatch):
    monkeypatch.setenv("AIUSAGE_KIRO_REPORTS_URI", "s3://reports/kiro")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "::bad")
    cursor_api.records = [cursor_record("ada@example.com", D1)]
    code, out, err = run("connectors", "sync", "all", "--since", D1, "--until", D1)
    assert code == 1
    assert "connector kiro failed: could not start: ValueError: Invalid endpoint" in err
    assert "cursor: 1 rows" in out


def test_claude_code_hostile_values(run, db, anthropic):
    huge = claude_record("big@example.com", D1)
    huge["model_breakdown"][0]["tokens"]["input"] = 10**18
    anthropic.records = {
        D1: [
            huge,
            {
                **claude_record("x@example.com", D1),
                "actor": {"type": "api_actor", "api_key_name": "=SUM(A1:A9)"},
            },
            {
                **claude_record("neg@example.com", D1),
                "tool_actions": {"edit_tool": {"accepted": -1}},
            },
            {
                **claude_record("many@example.com", D1),
                "core_metrics": {"commits_by_claude_code": 10**13},
            },
            {
                **claude_record("text@example.com", D1),
                "core_metrics": {"pull_requests_by_claude_code": "1; DROP TABLE usage_daily"},
            },
            claude_record("eur@example.com", D1)
            | {
                "model_breakdown": [
                    {"estimated_cost": {"amount": 500, "currency": "EUR"}, "tokens": {"output": 5}}
                ]
            },
            "not an object",
        ]
    }
    code, out, _ = run("connectors", "sync", "claude-code", "--since", D1, "--until", D1)
    # the huge, the negative, too many commits, a non-number, the non-object
    assert code == 0 and "5 rejected" in out
    stored = figures(db)
    assert ("big@example.com", "claude-code") not in stored
    assert ("many@example.com", "claude-code") not in stored
    assert ("text@example.com", "claude-code") not in stored
    assert ("claude-code:=SUM(A1:A9)", "claude-code") in stored
    assert stored[("eur@example.com", "claude-code")].cost_usd is None  # not USD: no cost


def test_cursor_wrong_key_is_refused_without_retrying_or_showing_it(
    run, db, cursor_api, monkeypatch
):
    monkeypatch.setenv("AIUSAGE_CURSOR_API_KEY", "key_wrong_and_secret")
    code, out, err = run("connectors", "sync", "cursor", "--since", D1, "--until", D1)
    assert code == 1
    assert "Cursor refused the key (HTTP 401): Invalid API key" in err
    assert len(cursor_api.calls_to("/teams/daily-usage-data")) == 1
    assert "key_wrong_and_secret" not in out + err

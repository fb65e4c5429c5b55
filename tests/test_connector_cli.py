"""`aiusage sync` against fake vendor APIs: its exit codes, where a fresh sync starts, a
connector that cannot start, hostile values and a wrong key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.connector_helpers import D1, claude_record, cursor_record, figures

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


def test_a_vendors_error_with_terminal_escapes_is_printed_harmless(run, db, cursor_api):
    # The vendor's own words reach the operator's terminal; ESC sequences in them could clear
    # the screen, retitle the window or hide a link behind other text. `admin status` had
    # them replaced; `connectors sync` and `connectors list` printed them as sent.
    hostile = "Denied\x1b[2J\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x9b31m\x07"
    cursor_api.fail("/teams/daily-usage-data", 403, body={"message": hostile})
    code, out, err = run("connectors", "sync", "cursor", "--since", D1, "--until", D1)
    assert code == 1 and "Denied" in err
    code, listed, _ = run("connectors", "list")
    assert "Denied" in listed
    for printed in (out, err, listed):
        assert not any(ch in printed for ch in "\x1b\x07\x9b"), repr(printed)

"""Vendor records to serve and the stored figures to read, for the connector tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.connectors.registry import run_connectors
from bot.settings import load_settings
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


def pull(db, name, **client):
    """One pull of `name` for D1, as the connectors' job makes it, with `client` knobs."""
    now = datetime(2026, 11, 20, tzinfo=UTC)
    [result] = run_connectors(load_settings(), db, lambda: now, [name], D1, D1, **client)
    return result

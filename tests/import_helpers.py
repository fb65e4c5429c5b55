"""The shipped vendor reports and the figures they give, for the `aiusage import` tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from storage.usage_report import usage_report

DATA = Path(__file__).parent / "data"
NOV16, NOV17 = date(2026, 11, 16), date(2026, 11, 17)
KIRO_ALEX = "kiro:d-9067c4a1f2.3c1e5f0a-2b41-4c7d-9a0e-5d2f8b6c1a90"
KIRO_BO = "kiro:d-9067c4a1f2.77b0e2d4-91aa-4f3c-8e55-0c6d1f2a9b37"


def figures(db, start=NOV16, end=NOV17):
    """The report's rows keyed by who, as dicts of the figures."""
    return {
        line.slack_user_id or line.identity: {
            "tool": line.tool,
            "requests": line.totals.requests,
            "input_tokens": line.totals.input_tokens,
            "output_tokens": line.totals.output_tokens,
            "shown": line.totals.suggestions_shown,
            "accepted": line.totals.suggestions_accepted,
            "lines": line.totals.lines_accepted,
            "active_days": line.active_days,
        }
        for line in usage_report(db, start, end)
    }

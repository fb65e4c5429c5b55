"""The three tiers of the source rule (`storage.precedence`): a vendor's report over a
tool's own OpenTelemetry over HTTP API pushes, per figure. The pure rule here, and the
same usage sent by both pushing doors counted once through the real endpoints and the real
`report` command, on both databases. `test_source_precedence` holds every read to the rule."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.cli.main import main
from storage.figures import NAMES, Figures
from storage.models import DailyRow
from storage.people import link_email
from storage.precedence import (
    API_ORIGIN,
    OTLP_ORIGIN,
    OriginFigures,
    counted_figures,
    kept_figures,
    tier,
)
from tests.builders import bearer, event
from tests.otlp.helpers import NOON, SECOND, api_request_log, logs, metrics, point, send, tokens

PUSHED = API_ORIGIN
OTLP = OTLP_ORIGIN
REPORT = "import:claude-code"


def test_the_tools_telemetry_wins_over_api_pushes_and_loses_to_the_report():
    # the same day told three times: by a script through the API, by Claude Code's own
    # OpenTelemetry, and by Anthropic's daily report
    api = Figures(requests=9, input_tokens=900, output_tokens=90, cost_usd=0.9, commits=4)
    otlp = Figures(requests=3, input_tokens=300, output_tokens=30, cost_usd=0.3, commits=2)
    report = Figures(input_tokens=1050, output_tokens=200, cost_usd=1.86)
    rows = [OriginFigures(PUSHED, api), OriginFigures(OTLP, otlp), OriginFigures(REPORT, report)]
    # tokens and cost from the report; requests and commits, which it lacks, from OTLP
    assert counted_figures(rows) == Figures(
        requests=3, input_tokens=1050, output_tokens=200, cost_usd=1.86, commits=2
    )
    # without the report, OTLP wins every figure it carries
    assert counted_figures(rows[:2]) == otlp
    # and the API keeps what OTLP lacks
    sparse = Figures(requests=3, output_tokens=0, pull_requests=None)
    both = [
        OriginFigures(PUSHED, Figures(output_tokens=7, pull_requests=1)),
        OriginFigures(OTLP, sparse),
    ]
    assert counted_figures(both) == Figures(requests=3, output_tokens=7, pull_requests=1)


def test_a_row_keeps_only_what_no_higher_tier_carries():
    rows = [
        OriginFigures(PUSHED, Figures(requests=1, lines_accepted=5)),
        OriginFigures(OTLP, Figures(lines_accepted=6)),
        OriginFigures("import:kiro", Figures(requests=2)),
    ]
    assert kept_figures(rows) == [
        Figures(),
        Figures(lines_accepted=6),
        Figures(requests=2),
    ]
    # an origin no door owns is a report's, whatever its name
    assert tier("import:cursor@otlp") == tier("anything") > tier(OTLP) > tier(PUSHED)


# --- through the real doors ----------------------------------------------------------------

DAY = "2026-11-18"  # the `now` fixture's day


def test_usage_sent_by_both_the_api_and_otlp_counts_once(client, api_key, db, now, capsys):
    link_email(db, "dev@example.com", "UDEV", now)
    # a script pushes Claude Code usage through the events API
    pushed = [
        event(
            user={"email": "dev@example.com"},
            requests=5,
            input_tokens=1000,
            output_tokens=500,
            cost_usd=1.0,
            commits=3,
            pull_requests=2,
            suggestions_shown=4,
            suggestions_accepted=2,
        )
    ]
    response = client.post("/api/v1/events", json={"events": pushed}, headers=bearer(api_key))
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text
    # and Claude Code's own telemetry tells the same day: metrics, and request events
    exported = metrics(
        tokens(1200, "input"),
        tokens(300, "output"),
        ("claude_code.cost.usage", [point(0.75, model="claude-sonnet-4-5")]),
        ("claude_code.commit.count", [point(1)]),
    )
    assert send(client, api_key, exported).status_code == 200
    requests = logs(api_request_log(NOON), api_request_log(NOON + SECOND))
    assert send(client, api_key, requests, path="/v1/logs").status_code == 200

    with db.read() as conn:
        origins = set(conn.scalars(select(DailyRow.origin)))
    assert origins == {API_ORIGIN, OTLP_ORIGIN}  # each door under its own origin

    assert main(["report", "--from", DAY, "--to", DAY, "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    [row] = json.loads(out)
    assert (row["slack_user_id"], row["tool"]) == ("UDEV", "claude-code")
    # OTLP wins what it carries; the API keeps the pull requests and suggestions it lacks
    assert {name: row[name] for name in NAMES} == pytest.approx(
        {
            "requests": 2,
            "input_tokens": 1200,
            "output_tokens": 300,
            "suggestions_shown": 4,
            "suggestions_accepted": 2,
            "lines_accepted": None,
            "cost_usd": 0.75,
            "commits": 1,
            "pull_requests": 2,
        }
    )

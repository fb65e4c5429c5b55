"""No figure counted twice when the HTTP API, OpenTelemetry and a vendor's report describe
the same person's tool and day: the pure rule, the SQL that applies it in every read, and
the rule held by the reads against the rule itself on both databases."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime

import pytest

from bot.cli.main import main
from bot.demo.signed_requests import app_home_opened
from storage.figures import NAMES, Figures
from storage.integrations import create_integration
from storage.org import span_sums, usage_cells
from storage.people import link_email, link_identity, resolve_identities
from storage.precedence import (
    API_ORIGIN,
    OTLP_ORIGIN,
    OriginFigures,
    counted_figures,
    is_priced,
    kept_figures,
    tier,
    top_tiers,
)
from storage.usage_queries import person_daily, person_periods, rank_inputs
from storage.usage_report import usage_report
from tests.builders import bearer, event
from tests.readback import as_figures, assert_same_figures, random_figures, replace_rollup
from tests.slack_command_helpers import text_of
from tests.slack_requests import signed_headers

PUSHED = API_ORIGIN
OTLP = OTLP_ORIGIN
REPORT = "import:claude-code"


def test_a_report_wins_for_the_figures_it_carries_and_events_keep_the_rest():
    pushed = Figures(requests=3, input_tokens=300, output_tokens=150, cost_usd=0.3)
    report = Figures(input_tokens=1050, output_tokens=200, lines_accepted=40, cost_usd=1.86)
    counted = counted_figures([OriginFigures(PUSHED, pushed), OriginFigures(REPORT, report)])
    assert counted == Figures(
        requests=3, input_tokens=1050, output_tokens=200, lines_accepted=40, cost_usd=1.86
    )


def test_one_source_alone_counts_whole():
    pushed = Figures(requests=2, suggestions_shown=4, suggestions_accepted=1)
    assert counted_figures([OriginFigures(PUSHED, pushed)]) == pushed
    report = Figures(requests=5, lines_accepted=0)
    assert counted_figures([OriginFigures(REPORT, report)]) == report


def test_a_reported_zero_is_said_but_a_counted_zero_is_not():
    # lines_accepted=0 is the report saying "none"; requests=0 is the rollup's "not carried"
    pushed = Figures(requests=7, lines_accepted=12)
    report = Figures(requests=0, lines_accepted=0)
    counted = counted_figures([OriginFigures(PUSHED, pushed), OriginFigures(REPORT, report)])
    assert (counted.requests, counted.lines_accepted) == (7, 0)


def test_reports_of_different_origins_add_up_and_all_beat_events():
    rows = [
        OriginFigures("import:kiro:kiro_ide", Figures(requests=4)),
        OriginFigures("import:kiro:kiro_cli", Figures(requests=6)),
        OriginFigures(PUSHED, Figures(requests=100, input_tokens=9)),
    ]
    assert counted_figures(rows) == Figures(requests=10, input_tokens=9)
    assert top_tiers(rows) == {"requests": tier(REPORT), "input_tokens": tier(PUSHED)}


def test_a_figure_carried_in_one_kind_is_lost_by_events_of_every_kind():
    # rows of one person, tool and day: the report's agent row, the events' chat row
    rows = [
        OriginFigures(REPORT, Figures(suggestions_shown=10, suggestions_accepted=9)),
        OriginFigures(PUSHED, Figures(requests=1, suggestions_shown=5, suggestions_accepted=5)),
    ]
    counted = counted_figures(rows)
    assert (counted.requests, counted.suggestions_shown, counted.suggestions_accepted) == (1, 10, 9)


def test_events_tokens_are_priced_by_the_reports_cost():
    top = {"cost_usd": tier(REPORT)}
    assert is_priced(OriginFigures(PUSHED, Figures(input_tokens=5)), top)
    assert is_priced(OriginFigures(OTLP, Figures(input_tokens=5)), top)
    assert not is_priced(OriginFigures(PUSHED, Figures(input_tokens=5)), {})
    assert not is_priced(OriginFigures(REPORT, Figures(input_tokens=5)), top)
    # OTLP's cost covers the API's tokens of that day, not its own tokens' twin in a report
    top = {"cost_usd": tier(OTLP)}
    assert is_priced(OriginFigures(PUSHED, Figures(input_tokens=5)), top)
    assert not is_priced(OriginFigures(REPORT, Figures(input_tokens=5)), top)


# --- the reads agree with the rule -------------------------------------------------------

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
DAYS = (date(2026, 11, 16), date(2026, 11, 17))
TOOLS = ("claude-code", "cursor")
KINDS = ("agent", "chat")
ORIGINS = (PUSHED, OTLP, "import:claude-code", "import:cursor@acme:ide")


@pytest.mark.parametrize("seed", range(6))
def test_every_read_counts_what_the_rule_counts(db, seed):
    rng = random.Random(seed)
    alice = link_email(db, "alice@example.com", "UALICE", NOW)
    # Alice's Copilot login is a second identity of hers: her two identities meet as one
    link_identity(db, "copilot", "alice-gh", "UALICE", "test", NOW)
    with db.write() as conn:
        ids = resolve_identities(
            conn,
            [("email", "alice@example.com"), ("copilot", "alice-gh"), ("email", "x@ex.com")],
            NOW,
        )
    who = {ids[("email", "alice@example.com")]: "alice", ids[("copilot", "alice-gh")]: "alice"}
    who[ids[("email", "x@ex.com")]] = "email:x@ex.com"  # nobody's yet
    rows: dict[tuple, OriginFigures] = {}
    for identity_id in who:
        for day in DAYS:
            for tool in TOOLS:
                for kind in KINDS:
                    for origin in ORIGINS:
                        if rng.random() < 0.5:
                            key = (identity_id, day, tool, kind, origin)
                            rows[key] = OriginFigures(origin, random_figures(rng))
    replace_rollup(db, rows)

    groups: dict[tuple, list[OriginFigures]] = defaultdict(list)
    for (identity_id, day, tool, _kind, _origin), row in rows.items():
        groups[(who[identity_id], day, tool)].append(row)
    want: dict[tuple[str, str], Figures] = defaultdict(Figures)
    unpriced: dict[tuple[str, str], int] = defaultdict(int)
    for (person, _day, tool), group in groups.items():
        want[(person, tool)] += counted_figures(group)
        top = top_tiers(group)
        for row, kept in zip(group, kept_figures(group), strict=True):
            if not is_priced(row, top):
                unpriced[(person, tool)] += kept.tokens
    start, end = DAYS[0], DAYS[-1]

    # report: per person (or unlinked identity) and tool
    lines = {
        ((line.slack_user_id and "alice") or line.identity, line.tool): line
        for line in usage_report(db, start, end)
    }
    assert set(lines) == set(want)
    for key, line in lines.items():
        assert_same_figures(as_figures(line.totals), want[key])

    # me, awards: a person's period; the home chart: a person's days
    [period] = person_periods(db, start, end)
    mine = sum((f for (p, _), f in want.items() if p == "alice"), Figures())
    assert_same_figures(as_figures(period.totals), mine)
    daily = sum((as_figures(d.totals) for d in person_daily(db, alice, start, end)), Figures())
    assert_same_figures(daily, mine)

    # top: suggestions only
    [ranked] = rank_inputs(db, start, end)
    assert (ranked.suggestions_accepted, ranked.suggestions_shown) == (
        mine.suggestions_accepted,
        mine.suggestions_shown,
    )

    # org: per person and tool cells, and per tool sums, with the tokens nobody priced
    for cell in usage_cells(db, [(start, end)]):
        assert_same_figures(as_figures(cell.totals), want[("alice", cell.tool)])
        assert (
            cell.unpriced_input_tokens + cell.unpriced_output_tokens
            == unpriced[("alice", cell.tool)]
        )
    sums, _ = span_sums(db, [(start, end)])
    for tool_sums in sums:
        assert_same_figures(as_figures(tool_sums.totals), want[("alice", tool_sums.tool)])
    # the same through the weekly rollup, which whole weeks are read from
    week = (date(2026, 11, 16), date(2026, 11, 22))
    cells = usage_cells(db, [week])
    assert {cell.tool for cell in cells} == {tool for person, tool in want if person == "alice"}
    for cell in cells:
        assert_same_figures(as_figures(cell.totals), want[("alice", cell.tool)])
        assert (
            cell.unpriced_input_tokens + cell.unpriced_output_tokens
            == unpriced[("alice", cell.tool)]
        )
    sums, _ = span_sums(db, [week])
    for tool_sums in sums:
        assert_same_figures(as_figures(tool_sums.totals), want[("alice", tool_sums.tool)])


# --- through the real doors ----------------------------------------------------------------

TUESDAY = "2026-11-17"  # in the `now` fixture's week, 2026-W47


def claude_code_day(email: str, day: str) -> dict:
    """Anthropic's Claude Code report for one person and day (its documented shape)."""
    return {
        "actor": {"type": "user_actor", "email_address": email},
        "date": f"{day}T00:00:00Z",
        "core_metrics": {"lines_of_code": {"added": 40, "removed": 5}, "num_sessions": 3},
        "customer_type": "api",
        "terminal_type": "vscode",
        "model_breakdown": [
            {
                "model": "claude-sonnet-4",
                "estimated_cost": {"amount": 186, "currency": "USD"},
                "tokens": {"input": 1000, "output": 200, "cache_read": 0, "cache_creation": 50},
            }
        ],
        "tool_actions": {"edit_tool": {"accepted": 9, "rejected": 1}},
    }


def cli(*argv: str, capsys) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    return out


def push(slack, api_key, *events):
    response = slack.http.post(
        "/api/v1/events", json={"events": list(events)}, headers=bearer(api_key)
    )
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text


def open_home(slack, user_id: str = "UALICE") -> str:
    """The text of the App Home the app publishes when `user_id` opens it."""
    body = app_home_opened(user_id)
    assert slack.post(body, signed_headers(body, "application/json")).status_code == 200
    [*_, call] = slack.fake.wait_for("views.publish")
    view = call.params["view"]
    return text_of(json.loads(view) if isinstance(view, str) else view)


def test_claude_code_pushed_and_pulled_for_the_same_day_counts_once_everywhere(
    slack, api_key, anthropic, db, now, capsys, monkeypatch
):
    link_email(db, "alice@example.com", "UALICE", now)
    tuesday = {"user": {"slack_user_id": "UALICE"}, "occurred_at": f"{TUESDAY}T10:00:00Z"}
    # Claude Code's own telemetry, pushed: requests, tokens, cost, lines, decisions
    push(
        slack,
        api_key,
        *[
            event(**tuesday, requests=1, input_tokens=100, output_tokens=50, cost_usd=0.1)
            for _ in range(2)
        ],
    )
    anthropic.records = {
        date.fromisoformat(TUESDAY): [claude_code_day("alice@example.com", TUESDAY)]
    }
    cli("connectors", "sync", "claude-code", "--since", TUESDAY, "--until", TUESDAY, capsys=capsys)
    # more pushed after the report: what it carries still counts from the report alone
    push(
        slack,
        api_key,
        event(
            **tuesday,
            kind="chat",
            requests=1,
            input_tokens=100,
            output_tokens=50,
            cost_usd=0.1,
            lines_accepted=7,
            suggestions_shown=5,
            suggestions_accepted=5,
        ),
    )
    # requests from the events (the report has none); the rest from Anthropic's report
    want = {
        "requests": 3,
        "input_tokens": 1050,
        "output_tokens": 200,
        "suggestions_shown": 10,
        "suggestions_accepted": 9,
        "lines_accepted": 40,
        "cost_usd": 1.86,
        "active_days": 1,
    }

    rows = json.loads(
        cli("report", "--from", TUESDAY, "--to", TUESDAY, "--format", "json", capsys=capsys)
    )
    [row] = [r for r in rows if r["tool"] == "claude-code"]
    assert row["slack_user_id"] == "UALICE"
    assert {name: row[name] for name in want} == pytest.approx(want)

    monkeypatch.setenv("AIUSAGE_MIN_GROUP_SIZE", "1")
    # Grouped reports cover whole weeks that are over: Tuesday's week, the Monday after.
    slack.move_to(datetime(2026, 11, 23, 12, tzinfo=UTC))
    rows = json.loads(
        cli("report", "--week", "2026-W47", "--by", "tool", "--format", "json", capsys=capsys)
    )
    slack.move_to(now)
    [by_tool] = rows
    assert {name: by_tool[name] for name in want if name != "active_days"} == pytest.approx(
        {name: value for name, value in want.items() if name != "active_days"}
    )

    me = text_of(slack.ask("me"))
    assert "*Requests:* 3" in me
    assert "*Tokens:* 1,250 (1,050 in, 200 out)" in me
    assert "*Accepted suggestions:* 9 of 10 (90%)" in me
    assert "*Estimated cost:* $1.86" in me

    # The week (3 requests, 10 shown, 1,250 tokens: 14 requests' worth) is under the 20 the
    # board ranks, so `top` shows no figures; what it ranks by is counted once all the same.
    assert "*Your place:* not ranked yet" in text_of(slack.ask("top"))
    [ranked] = rank_inputs(db, date(2026, 11, 16), date(2026, 11, 22))
    assert (ranked.suggestions_accepted, ranked.suggestions_shown) == (9, 10)
    assert (ranked.requests, ranked.tokens) == (3, 1250)

    home = open_home(slack)
    assert "1,250" in home and "$1.86" in home


def test_a_cursor_import_and_pushed_cursor_events_on_the_same_day_count_once(
    client, api_key, db, now, capsys, tmp_path
):
    link_email(db, "dana@example.com", "UDANA", now)
    # an integration named like the pushed origin: its report is still a report
    create_integration(db, "events", now)
    day = {"user": {"email": "Dana@Example.com"}, "occurred_at": "2026-11-16T09:00:00Z"}
    pushed = [
        event(**day, tool="cursor", requests=500, input_tokens=1000, output_tokens=100),
        event(
            **day,
            tool="cursor",
            kind="inline_suggestion",
            suggestions_shown=9,
            suggestions_accepted=9,
            input_tokens=0,
            output_tokens=0,
        ),
    ]
    response = client.post("/api/v1/events", json={"events": pushed}, headers=bearer(api_key))
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text
    report = tmp_path / "cursor.json"
    report.write_text(json.dumps({"data": [CURSOR_DAY]}))
    out = cli("import", "cursor", str(report), "--integration", "events", capsys=capsys)
    assert "Imported 1 row" in out
    rows = json.loads(
        cli(
            "report",
            "--from",
            "2026-11-16",
            "--to",
            "2026-11-16",
            "--format",
            "json",
            capsys=capsys,
        )
    )
    [row] = rows
    assert (row["slack_user_id"], row["tool"]) == ("UDANA", "cursor")
    # tokens only from the events (Cursor's report has none); the rest from the report
    assert {name: row[name] for name in NAMES} == {
        "requests": 45 + 12 + 67 + 128,
        "input_tokens": 1000,
        "output_tokens": 100,
        "suggestions_shown": 342 + 87,
        "suggestions_accepted": 289 + 73,
        "lines_accepted": 1102,
        "cost_usd": None,
        "commits": None,  # no source reported shipped work
        "pull_requests": None,
    }


CURSOR_DAY = {
    "date": 1794787200000,  # 2026-11-16
    "isActive": True,
    "acceptedLinesAdded": 1102,
    "totalApplies": 87,
    "totalAccepts": 73,
    "totalTabsShown": 342,
    "totalTabsAccepted": 289,
    "composerRequests": 45,
    "chatRequests": 128,
    "agentRequests": 12,
    "cmdkUsages": 67,
    "email": "Dana@Example.com",
}

"""Scripted, near-empty or implausible usage sent through the real ingest API wins no badge,
while an honest week of ordinary size still does: the weekly decision read as an admin
reads it (`aiusage awards preview`, which also lists integrity flags) and `aiusage report`."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.cli.main import main
from tests.builders import bearer

WEEK = "2026-W46"  # the last complete week at the `now` fixture
MONDAY = datetime(2026, 11, 9, tzinfo=UTC)
_ids = itertools.count(1)


def usage(user: str, day: int, hour: float = 10, **figures: Any) -> dict[str, Any]:
    """An event of `user` on the week's `day` (0 is Monday) at `hour` UTC; requests,
    tokens and the rest are exactly `figures` (requests 1 and nothing else by default)."""
    at = MONDAY + timedelta(days=day, hours=hour)
    return {
        "event_id": f"scripted-{next(_ids)}",
        "user": {"slack_user_id": user},
        "occurred_at": at.isoformat(),
        "tool": "kiro",
        "kind": "chat",
        **figures,
    }


def honest_week(
    user: str = "UHONEST", hours: tuple[float, ...] = (9.5, 11.25, 14.75), **figures: Any
) -> list[dict[str, Any]]:
    """Five working days of ordinary use: a few sessions a day (at `hours`), tokens,
    suggestions shown and some accepted, lines written; `figures` change a session's."""
    session = {
        "requests": 4,
        "input_tokens": 3000,
        "output_tokens": 400,
        "suggestions_shown": 15,
        "suggestions_accepted": 6,
        "lines_accepted": 20,
        **figures,
    }
    return [
        usage(user, day, hour, kind="inline_suggestion", **session)
        for day in range(5)
        for hour in hours
    ]


def send(client, api_key: str, events: list[dict[str, Any]]) -> None:
    response = client.post("/api/v1/events", json={"events": events}, headers=bearer(api_key))
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == [], response.json()


def preview(capsys) -> str:
    capsys.readouterr()
    assert main(["awards", "preview", "--week", WEEK]) == 0
    return capsys.readouterr().out


def report(capsys) -> dict[str, dict[str, Any]]:
    """`aiusage report` of the week by Slack user: their most active tool's active days,
    and the tools with an active day."""
    capsys.readouterr()
    assert main(["report", "--week", WEEK, "--format", "json"]) == 0
    rows: dict[str, dict[str, Any]] = {}
    for row in json.loads(capsys.readouterr().out):
        mine = rows.setdefault(row["slack_user_id"], {"active_days": 0, "tools": set()})
        mine["active_days"] = max(mine["active_days"], row["active_days"])
        if row["active_days"]:
            mine["tools"].add(row["tool"])
    return rows


def badge_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(":")]


@pytest.fixture
def honest(client, api_key):
    send(client, api_key, honest_week())


def test_empty_events_pad_no_active_days_and_no_tools(client, api_key, honest, capsys):
    # One real day, then an empty event (no request, no token) on each of the six others:
    # seven "active days" against the honest five, had any event made a day active.
    padded = [usage("UPAD", 0, requests=40, input_tokens=40_000, output_tokens=2000)]
    padded += [usage("UPAD", day, 9, requests=0) for day in range(1, 7)]
    # Two real days with one tool, and empty events under made-up tools and kinds: seven
    # "tools and kinds" for the Explorer badge.
    wide = [usage("UWIDE", day, requests=15, input_tokens=20_000) for day in (0, 1)]
    wide += [
        usage("UWIDE", 2, requests=0, tool=tool, kind=kind)
        for tool, kind in (("t1", "agent"), ("t2", "completion"), ("t3", "other"))
    ]
    send(client, api_key, padded + wide)

    lines = badge_lines(preview(capsys))
    assert lines == [":calendar: *Steady hand*: <@UHONEST> (5 active days, 40% acceptance)"]
    rows = report(capsys)
    assert rows["UPAD"]["active_days"] == 1 and rows["UHONEST"]["active_days"] == 5
    assert rows["UWIDE"]["tools"] == {"kiro"}


def test_the_honest_week_alone_still_wins(client, api_key, honest, capsys):
    out = preview(capsys)
    assert badge_lines(out) == [
        ":calendar: *Steady hand*: <@UHONEST> (5 active days, 40% acceptance)"
    ]
    assert "Integrity flags: none" in out


def test_a_week_of_nothing_but_empty_events_is_read_and_wins_nothing(
    client, api_key, honest, capsys
):
    # Only what makes a day active changed: an empty event is accepted as before, and a
    # week of them (no day, tool or kind of work) reads back everywhere.
    send(client, api_key, [usage("UEMPTY", day, 9, requests=0) for day in range(7)])
    assert badge_lines(preview(capsys)) == [
        ":calendar: *Steady hand*: <@UHONEST> (5 active days, 40% acceptance)"
    ]
    assert report(capsys)["UEMPTY"] == {"active_days": 0, "tools": set()}


def test_a_handful_of_bare_requests_wins_nothing(client, api_key, honest, capsys):
    # One bare request a day, every day, at the same second: seven active days of nothing.
    ticks = [usage("UTICK", day, 9) for day in range(7)]
    # Four bare requests under two tools and two kinds of work, on two days: an "Explorer".
    hops = [
        usage("UHOP", day, 9, tool=tool, kind=kind)
        for day, tool, kind in ((0, "kiro", "chat"), (1, "copilot", "agent"))
        for _ in range(2)
    ]
    send(client, api_key, ticks + hops)

    out = preview(capsys)
    assert badge_lines(out) == [
        ":calendar: *Steady hand*: <@UHONEST> (5 active days, 40% acceptance)"
    ]
    assert report(capsys)["UTICK"]["active_days"] == 7  # active, but not a week of use


def test_two_events_of_perfect_acceptance_win_no_sharp_eye(client, api_key, honest, capsys):
    # 25 of 25 accepted on each of two days (and enough requests to count as a week's use).
    perfect = [
        usage(
            "UPERFECT",
            day,
            9,
            kind="inline_suggestion",
            requests=10,
            input_tokens=3000,
            suggestions_shown=25,
            suggestions_accepted=25,
        )
        for day in (0, 1)
    ]
    send(client, api_key, perfect)
    assert "UPERFECT" not in preview(capsys)


def test_lines_no_use_could_write_are_flagged_for_admins(client, api_key, honest, capsys):
    # 20,000 tokens and a billion accepted lines on each of two days.
    claimed = [
        usage(
            "ULINES",
            day,
            9,
            kind="agent",
            input_tokens=10_000,
            suggestions_shown=10,
            suggestions_accepted=10,
            lines_accepted=10**9,
        )
        for day in (0, 1)
    ]
    send(client, api_key, claimed)
    post, flags = preview(capsys).split("Integrity flags")
    assert "ULINES" not in post
    assert flags.splitlines()[1:] == [
        "  ULINES  lines_without_usage: 2,000,000,000 accepted lines on 20,000 tokens, "
        "2 requests and 20 accepted suggestions"
    ]


def test_more_lines_than_a_tool_writes_per_token_win_no_lean_badge(client, api_key, honest, capsys):
    # 19,000 accepted lines on 20,000 tokens: under the flag's bounds (fewer lines than
    # tokens), but a line for about every token, where code costs about ten.
    claimed = [
        usage(
            "UFAST",
            day,
            9,
            kind="agent",
            requests=10,
            input_tokens=10_000,
            suggestions_shown=30,
            suggestions_accepted=20,
            lines_accepted=9_500,
        )
        for day in (0, 1)
    ]
    # Someone leaner than the honest week, within what tokens can write: 100 per 1,000.
    lean = [
        usage("ULEAN", day, 9, kind="agent", requests=10, input_tokens=10_000, lines_accepted=1000)
        for day in (0, 1)
    ]
    send(client, api_key, claimed + lean)
    out = preview(capsys)
    assert "UFAST" not in out  # not eligible, and not flagged either
    assert badge_lines(out) == [
        ":calendar: *Steady hand*: <@UHONEST> (5 active days, 40% acceptance)",
        ":seedling: *Lean and useful*: <@ULEAN> "
        "(100.0 accepted lines per 1,000 tokens (2,000 in 20,000 tokens))",
    ]


def test_the_probes_week_awards_only_the_honest_person(client, api_key, capsys):
    # The probe that found these: a use in each of the four weeks before for everyone, so
    # every guard on history passes; an honest week of five days; one empty event a day for
    # seven days; two events claiming 25 of 25 accepted; two claiming a billion lines each.
    events = [
        usage(user, -7 * back, 10, input_tokens=5000)
        for back in range(1, 5)
        for user in ("UALICE", "UMAL1", "UMAL2", "UMAL3")
    ]
    events += [
        usage(
            "UALICE",
            day,
            kind="inline_suggestion",
            input_tokens=8000,
            suggestions_shown=80,
            suggestions_accepted=48,
            lines_accepted=100,
        )
        for day in range(5)
    ]
    events += [usage("UMAL1", day, 9, requests=0) for day in range(7)]
    events += [
        usage(
            "UMAL2", day, 9, kind="inline_suggestion", suggestions_shown=25, suggestions_accepted=25
        )
        for day in range(2)
    ]
    events += [
        usage(
            "UMAL3",
            day,
            9,
            kind="agent",
            input_tokens=10_000,
            lines_accepted=10**9,
            suggestions_shown=10,
            suggestions_accepted=10,
        )
        for day in range(2)
    ]
    send(client, api_key, events)
    out = preview(capsys)
    assert badge_lines(out) == [
        ":calendar: *Steady hand*: <@UALICE> (5 active days, 60% acceptance)"
    ]
    assert [line.split()[:2] for line in out.split("Integrity flags")[1].splitlines()[1:]] == [
        ["UMAL3", "lines_without_usage:"]
    ]

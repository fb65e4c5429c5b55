"""A handful of made-up events, each just inside a threshold, wins neither a place in
`/aiusage top` nor a badge, while real weeks beside them still do: sent through the real
ingest API, read through a signed `/aiusage top` and `aiusage awards preview`. What remains
(consistent, plausible figures made up over a full week) is in README under "What it does"."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.settings import load_settings
from tests.builders import bearer
from tests.slack_fixtures import BOT_TOKEN, SIGNING_SECRET
from tests.test_scripted_usage import badge_lines, honest_week, preview, send, usage

THIS_WEEK = ("2026-11-16", "2026-11-17", "2026-11-18")  # Monday to Wednesday at `now`
_count = iter(range(1, 1_000_000))


@pytest.fixture
def award_rules() -> str | None:
    """The award rules file's text, if a test sets one (by parametrizing this)."""
    return None


@pytest.fixture
def slack_settings(settings, fake_slack, monkeypatch, tmp_path, award_rules):
    """The Slack test settings, with `award_rules` as `AIUSAGE_AWARD_RULES` if given."""
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    if award_rules is not None:
        rules = tmp_path / "awards.yaml"
        rules.write_text(award_rules, encoding="utf-8")
        monkeypatch.setenv("AIUSAGE_AWARD_RULES", str(rules))
    return load_settings()


def _today(user: str, day: str, hour: int, **figures: Any) -> dict[str, Any]:
    return {
        "event_id": f"fabricated-{next(_count)}",
        "user": {"slack_user_id": user},
        "occurred_at": f"{day}T{hour:02d}:00:00Z",
        "tool": "kiro",
        "kind": "inline_suggestion",
        **figures,
    }


def _alice_so_far() -> list[dict[str, Any]]:
    """Three real days so far: two sessions a day, tokens behind them, 40% accepted."""
    return [
        _today(
            "UALICE",
            day,
            hour,
            requests=4,
            input_tokens=3000,
            output_tokens=400,
            suggestions_shown=15,
            suggestions_accepted=6,
        )
        for day in THIS_WEEK
        for hour in (9, 11)
    ]


def _send_now(slack, api_key: str, events: list[dict[str, Any]]) -> None:
    response = slack.http.post("/api/v1/events", json={"events": events}, headers=bearer(api_key))
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text


def _text(reply: dict[str, Any]) -> str:
    parts = [reply.get("text") or ""]
    for block in reply.get("blocks") or []:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text.get("text", ""))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and "text" in element:
                parts.append(str(element["text"]))
    return "\n".join(parts)


def _places(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\d+\. ", line)]


# -- /aiusage top ------------------------------------------------------------------------------


def test_three_events_claiming_full_acceptance_take_no_place_in_top(slack, api_key):
    # The probe's week: one event a day, one request, no tokens, 1,000 of 1,000 accepted.
    # Its "work" (3,003 suggestions and requests) passes the floor; its acceptance, past
    # what Sharp eye believes, keeps it off the board as a flagged week is: without a word.
    fabricated = [
        _today("UBOB", day, 8, requests=1, suggestions_shown=1000, suggestions_accepted=1000)
        for day in THIS_WEEK
    ]
    _send_now(slack, api_key, _alice_so_far() + fabricated)

    text = _text(slack.ask("top", user_id="UALICE"))
    assert _places(text) == ["1. <@UALICE>: 3 active days, 36 accepted suggestions (40% accepted)"]
    assert "UBOB" not in text and "not ranked yet" not in text
    assert "you are not ranked this week" in _text(slack.ask("top", user_id="UBOB"))


def test_a_week_below_the_badges_floor_of_use_is_not_ranked_yet(slack, api_key):
    # Three events, one a day, of one request and 5 of 5 suggestions shown: 18 requests'
    # worth, under the 20 every badge asks of a week. Before, three active days placed it.
    thin = [
        _today("UBOB", day, 8, requests=1, suggestions_shown=5, suggestions_accepted=5)
        for day in THIS_WEEK
    ]
    _send_now(slack, api_key, _alice_so_far() + thin)

    text = _text(slack.ask("top", user_id="UALICE"))
    assert _places(text) == ["1. <@UALICE>: 3 active days, 36 accepted suggestions (40% accepted)"]
    assert (
        "1 person is not ranked yet: too little use this week (under 20 requests' worth)." in text
    )
    assert "UBOB" not in text
    mine = _text(slack.ask("top", user_id="UBOB"))
    assert (
        "*Your place:* not ranked yet: your week so far shows less than 20 requests' worth of use"
    ) in mine


LOWER_FLOOR = "categories:\n" + "".join(
    f"  {key}: {{min_work: 10}}\n"
    for key in ("steady", "acceptance", "efficiency", "breadth", "improvement", "shipped")
)


@pytest.mark.parametrize("award_rules", [LOWER_FLOOR], ids=["min_work_10"])
def test_top_holds_weeks_to_the_configured_floor(slack, api_key):
    # The floor is the award rules' `min_work`, not a second constant: at 10, 18 ranks.
    thin = [
        _today("UBOB", day, 8, requests=1, suggestions_shown=5, suggestions_accepted=5)
        for day in THIS_WEEK
    ]
    _send_now(slack, api_key, _alice_so_far() + thin)
    assert _places(_text(slack.ask("top", user_id="UALICE"))) == [
        "1. <@UALICE>: 3 active days, 36 accepted suggestions (40% accepted)",
        "2. <@UBOB>: 3 active days, 15 accepted suggestions (100% accepted)",
    ]


# -- weekly badges -----------------------------------------------------------------------------


def _real_week(user: str) -> list[dict[str, Any]]:
    """Five days of real inline use, 60% acceptance, with tokens behind it."""
    return honest_week(
        user,
        hours=(9.5, 14.25),
        requests=3,
        input_tokens=2500,
        output_tokens=300,
        suggestions_shown=20,
        suggestions_accepted=12,
        lines_accepted=30,
    )


def test_three_events_claiming_full_acceptance_win_no_sharp_eye(client, api_key, capsys):
    send(client, api_key, honest_week("UHONEST") + _real_week("UREAL"))
    # One event a day: one request, no tokens, 17 of 17 accepted (51 shown, just past
    # min_suggestions, which also makes the week 54 requests' worth). 100% is past belief.
    send(
        client,
        api_key,
        [
            usage(
                "UFAKE",
                day,
                8,
                kind="inline_suggestion",
                requests=1,
                suggestions_shown=17,
                suggestions_accepted=17,
            )
            for day in range(3)
        ],
    )
    lines = badge_lines(preview(capsys))
    # UREAL's five days take Steady hand (one badge each); Sharp eye goes to the next real rate.
    assert lines == [
        ":calendar: *Steady hand*: <@UREAL> (5 active days, 60% acceptance)",
        ":dart: *Sharp eye*: <@UHONEST> (40% acceptance of 225 suggestions, 5 active days)",
    ]


def test_made_up_tool_names_win_no_explorer(client, api_key, capsys):
    send(client, api_key, honest_week("UHONEST"))
    # Someone who really uses two tools for two kinds of work on two days, and a colleague
    # who uses the second tool too (the first, kiro, is the honest week's).
    real = [
        usage("UREAL", day, 10, tool=tool, kind=kind, requests=5, input_tokens=4000)
        for day in range(2)
        for tool, kind in (("kiro", "chat"), ("copilot", "inline_suggestion"))
    ]
    peer = [usage("UPEER", 0, 10, tool="copilot", requests=2)]
    # Four events on two days under four made-up names: `tool` is free text, but a name
    # nobody else reports is no tool the company uses.
    fake = [
        usage("UFAKE", day, 8, tool=f"tool-{day}{i}", kind="chat", requests=5)
        for day in range(2)
        for i in range(2)
    ]
    send(client, api_key, real + peer + fake)
    lines = badge_lines(preview(capsys))
    assert ":compass: *Explorer*: <@UREAL> (2 tools colleagues use too, 2 kinds of work)" in lines
    assert not [line for line in lines if "UFAKE" in line], lines


def test_a_tool_only_one_person_reports_does_not_count_for_explorer(client, api_key, capsys):
    # The same real week, but nobody else uses copilot: one tool and two kinds is 3, under 4.
    send(client, api_key, honest_week("UHONEST"))
    real = [
        usage("UREAL", day, 10, tool=tool, kind=kind, requests=5, input_tokens=4000)
        for day in range(2)
        for tool, kind in (("kiro", "chat"), ("copilot", "inline_suggestion"))
    ]
    send(client, api_key, real)
    assert not [line for line in badge_lines(preview(capsys)) if "Explorer" in line]


def test_seven_one_request_events_win_no_tie_against_a_real_seven_day_week(client, api_key, capsys):
    # A real seven-day week (weekend included), with tokens behind every request.
    real = [
        usage("UREAL", day, 10, kind="agent", requests=6, input_tokens=8000, output_tokens=900)
        for day in range(7)
    ]
    # Seven events, one a day, one claiming 14 requests so the week has 20 requests' worth,
    # and no tokens: "fewer tokens" won it the tie. A week with none is not leaner.
    fake = [usage("UFAKE", day, 8, requests=14 if day == 0 else 1) for day in range(7)]
    send(client, api_key, real + fake)
    lines = badge_lines(preview(capsys))
    assert lines[0] == ":calendar: *Steady hand*: <@UREAL> (7 active days)", lines
    assert not [line for line in lines if "UFAKE" in line], lines

"""The vendor report parsers as pure functions: text in, days and named bad rows out."""

from __future__ import annotations

import io
from datetime import date

import pytest

from bot.intake import copilot, cursor, kiro
from bot.intake.vendor_report import BadReport, RowError, calendar_day, count, merge
from storage.records import BadRow, KindFigures, ReportDay, UserRef


def test_calendar_days_in_each_vendor_format():
    assert calendar_day("2026-11-16") == date(2026, 11, 16)
    assert calendar_day("2026-11-16T00:00:00.000Z") == date(2026, 11, 16)
    assert calendar_day("11-16-2026") == date(2026, 11, 16)  # Kiro's per-user report
    assert calendar_day(1794787200000) == date(2026, 11, 16)  # Cursor: epoch ms, UTC
    assert calendar_day("1794787200000") == date(2026, 11, 16)
    for bad in ("", "16.11.2026", "2026-13-01", None, True):
        with pytest.raises(RowError):
            calendar_day(bad)


def test_counts_are_whole_and_not_negative():
    assert count({"n": "12"}, "n") == 12
    assert count({"n": 12.0}, "n") == 12
    assert count({"n": " 7 "}, "n") == 7
    assert count({}, "n") is None
    assert count({"n": ""}, "n") is None
    for bad in ("1.5", "-1", "x", True, [1], float("nan")):
        with pytest.raises(RowError):
            count({"n": bad}, "n")
    with pytest.raises(RowError, match="n is missing"):
        count({}, "n", required=True)


def test_merge_keeps_not_reported_apart_from_zero():
    merged = merge(
        [
            KindFigures(kind="chat", requests=2, lines_accepted=None),
            KindFigures(kind="chat", requests=3, lines_accepted=4),
            KindFigures(kind="agent", suggestions_shown=0),
        ]
    )
    assert merged == (
        KindFigures(kind="agent", suggestions_shown=0),
        KindFigures(kind="chat", requests=5, lines_accepted=4),
    )


def test_copilot_reads_ndjson_and_a_json_array():
    record = (
        '{"day": "2026-11-16", "user_login": "Mona", "totals_by_feature": '
        '[{"feature": "code_completion", "code_generation_activity_count": 4, '
        '"code_acceptance_activity_count": 1, "loc_added_sum": 3}]}'
    )
    [day] = copilot.parse(io.StringIO("\n" + record + "\n"))
    assert day == ReportDay(
        line=2,
        user=UserRef(vendor=("copilot", "mona")),
        day=date(2026, 11, 16),
        tool="copilot",
        figures=(
            KindFigures(
                kind="inline_suggestion",
                suggestions_shown=4,
                suggestions_accepted=1,
                lines_accepted=3,
            ),
        ),
    )
    [same] = copilot.parse(io.StringIO("[" + record + "]"))
    assert same.figures == day.figures
    [bad] = copilot.parse(io.StringIO('{"day": "2026-11-16"}\n'))
    assert bad == BadRow(1, "user_login is missing")


def test_cursor_names_the_line_each_item_starts_on():
    body = (
        '{"period": {"startDate": 1},\n "data": [\n'
        '  {"date": 1794787200000, "email": "a@example.com", "chatRequests": 2},\n'
        '  {"date": 1794787200000,\n   "email": "not-an-email"}\n]}'
    )
    good, bad = cursor.parse(body)
    assert (good.line, good.user, good.figures) == (
        3,
        UserRef(email="a@example.com"),
        (KindFigures(kind="chat", requests=2),),
    )
    assert bad == BadRow(4, "email is not a valid address: 'not-an-email'")
    with pytest.raises(BadReport):
        list(cursor.parse('{"teamMembers": []}'))


def test_kiro_checks_each_model_column_and_keeps_the_client():
    header = "Date,UserId,Client_Type,Credits_Used,Total_Messages,auto_messages,gpt_x_messages\n"
    rows = "2026-11-16,u1,KIRO_CLI,1.5,9,4,5\n2026-11-16,u2,PLUGIN,1,3,three,0\n"
    good, bad = kiro.parse(io.StringIO(header + rows))
    assert (good.client, good.figures) == ("kiro_cli", (KindFigures(kind="agent", requests=9),))
    assert bad == BadRow(3, "auto_messages must be a whole number, not 'three'")
    with pytest.raises(BadReport):
        list(kiro.parse(io.StringIO("Day,User\n")))


def _varied_copilot_records(seed: int, n: int) -> list[object]:
    """Copilot records, plain and odd: counts of every type and size, missing and hostile
    fields, features repeated, days in other forms, logins with spaces and capitals."""
    import random

    rng = random.Random(seed)
    counts = [0, 1, 7, 300, 10**12, 10**12 + 1, -1, None, "", "12", " 7 ", 3.0, 2.5, True,
              False, float("nan"), [], {}, 2**70]  # fmt: skip
    features = ["code_completion", "chat_panel_ask_mode", "chat_panel_agent_mode", "agent_edit",
                " code_completion ", "", "  ", 5, None, "something_new"]  # fmt: skip
    days = ["2026-11-16", "2026-11-16T00:00:00Z", "11-16-2026", " 2026-11-16", "2026-13-01",
            "2026-W47-1", "20261116", "", 1794787200000, None, True]  # fmt: skip
    logins = ["octocat", "OctoCat", " hubot ", "", "   ", 5, None, "dev\u2028x", "é" * 400]
    fields = ["code_generation_activity_count", "code_acceptance_activity_count",
              "loc_added_sum", "user_initiated_interaction_count"]  # fmt: skip

    def pick(options: list[object], plain: object) -> object:
        return plain if rng.random() < 0.8 else rng.choice(options)

    records: list[object] = []
    for _ in range(n):
        if rng.random() < 0.02:
            records.append(rng.choice([[], "x", 5, None]))
            continue
        record: dict[str, object] = {}
        if rng.random() < 0.97:
            record["user_login"] = pick(logins, f"dev{rng.randint(0, 50)}")
        if rng.random() < 0.97:
            record["day"] = pick(days, "2026-11-16")
        if rng.random() < 0.05:
            record["user_initiated_interaction_count"] = pick(counts, rng.randint(0, 9))
        if rng.random() < 0.1:
            record["totals_by_cli"] = rng.choice(
                [None, {"prompt_count": 3, "token_usage": {"prompt_tokens_sum": 9}}, 5]
            )
        if rng.random() < 0.95:
            items: list[object] = []
            for _ in range(rng.randint(0, 5)):
                if rng.random() < 0.03:
                    items.append(rng.choice(["x", None, 3]))
                    continue
                item = {"feature": pick(features, rng.choice(features[:4]))}
                for name in fields:
                    if rng.random() < 0.8:
                        item[name] = pick(counts, rng.randint(0, 300))
                items.append(item)
            record["totals_by_feature"] = pick([None, {}, "x"], items)
        records.append(record)
    return records


@pytest.mark.parametrize("seed", range(8))
def test_copilot_lean_path_reads_every_record_as_the_careful_path_does(seed, monkeypatch):
    import json

    lines = [json.dumps(r) for r in _varied_copilot_records(seed, 1500)]
    lines[10:10] = ["", "{not json", "  "]
    lean = list(copilot.parse(lines))
    monkeypatch.setattr(copilot, "_plain_report_day", lambda number, record: None)
    careful = list(copilot.parse(lines))
    assert lean == careful
    # The records are varied enough to take both paths and to name bad lines.
    assert sum(isinstance(item, BadRow) for item in careful) > 50
    assert sum(isinstance(item, ReportDay) for item in careful) > 300

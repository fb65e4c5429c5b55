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

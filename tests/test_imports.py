"""`aiusage import`: vendors' usage reports, re-imported, overlapping, corrected and malformed."""

from __future__ import annotations

import shutil
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.cli.main import main
from storage.integrations import create_integration
from storage.people import link_email
from storage.usage_report import usage_report
from tests.import_helpers import DATA, KIRO_ALEX, KIRO_BO, NOV16, NOV17, figures


def test_copilot_one_day_report_maps_features_and_cli(run, db):
    code, out, err = run("import", "copilot", DATA / "copilot_users_1_day.ndjson")
    assert (code, err) == (0, "")
    assert "Imported 2 rows" in out
    assert figures(db) == {
        "copilot:octocat": {
            "tool": "copilot",
            "requests": 9 + 5 + 4,  # ask and agent prompts, and CLI prompts
            "input_tokens": 38100,
            "output_tokens": 5200,
            "shown": 48 + 8 + 5,
            "accepted": 19 + 2 + 2,
            "lines": 74 + 12 + 150,
            "active_days": 1,
        },
        "copilot:hubot": {
            "tool": "copilot",
            "requests": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "shown": 30,
            "accepted": 11,
            "lines": 40,
            "active_days": 1,
        },
    }


def test_copilot_overlapping_28_day_report_replaces_days_and_names_bad_lines(run, db):
    run("import", "copilot", DATA / "copilot_users_1_day.ndjson")
    once = figures(db, NOV16, NOV16)
    assert run("import", "copilot", DATA / "copilot_users_1_day.ndjson")[0] == 0
    assert figures(db, NOV16, NOV16) == once  # the same file again changes nothing

    code, out, err = run("import", "copilot", DATA / "copilot_users_28_day.ndjson")
    assert code == 1
    assert "copilot_users_28_day.ndjson:3: code_generation_activity_count" in err
    assert "copilot_users_28_day.ndjson:5: not a JSON object" in err
    assert "Imported 3 rows" in out and "2 rejected" in out
    octocat = figures(db, NOV16, NOV16)["copilot:octocat"]
    # the 28-day report corrected the 16th: its figures replace the 1-day report's
    assert (octocat["requests"], octocat["shown"], octocat["lines"]) == (19, 62, 237)
    # hubot's row in it was malformed, so the 16th keeps what the 1-day report said
    assert figures(db, NOV16, NOV16)["copilot:hubot"]["shown"] == 30
    week = figures(db, date(2026, 11, 15), NOV17)["copilot:octocat"]
    assert (week["requests"], week["shown"], week["accepted"], week["active_days"]) == (
        24,
        92,
        36,
        3,
    )
    assert run("import", "copilot", DATA / "copilot_users_28_day.ndjson")[0] == 1
    assert figures(db, date(2026, 11, 15), NOV17)["copilot:octocat"] == week


def test_cursor_daily_usage_counts_for_the_person_with_that_email(run, db, now):
    link_email(db, "dana@example.com", "UDANA", now)
    code, _, err = run("import", "cursor", DATA / "cursor_daily_usage.json")
    assert code == 1
    assert "cursor_daily_usage.json:55: totalTabsShown must not be negative" in err
    assert figures(db) == {
        "UDANA": {
            "tool": "cursor",
            "requests": (45 + 12 + 67 + 128) + (0 + 20 + 2 + 6),
            "input_tokens": 0,
            "output_tokens": 0,
            "shown": (342 + 87) + (60 + 9),
            "accepted": (289 + 73) + (41 + 8),
            "lines": 1102 + 180,
            "active_days": 2,
        }
    }  # sam was inactive: no figures, and no active day


def test_cursor_corrected_day_replaces_rather_than_adds(run, db, tmp_path, now):
    link_email(db, "dana@example.com", "UDANA", now)
    run("import", "cursor", DATA / "cursor_daily_usage.json")
    corrected = tmp_path / "cursor.json"
    text = (DATA / "cursor_daily_usage.json").read_text()
    corrected.write_text(text.replace('"chatRequests": 6,', '"chatRequests": 10,'))
    run("import", "cursor", corrected)
    assert figures(db, NOV17, NOV17)["UDANA"]["requests"] == 32
    assert figures(db, NOV16, NOV16)["UDANA"]["requests"] == 252


def test_kiro_reports_by_client_and_by_activity_add_up_without_double_counting(run, db):
    code, _, err = run("import", "kiro", DATA / "kiro_user_report.csv")
    assert code == 1
    assert "kiro_user_report.csv:5: Credits_Used must be a number" in err
    code, _, err = run("import", "kiro", DATA / "kiro_by_user_analytic.csv")
    assert code == 1
    assert "kiro_by_user_analytic.csv:4: Date is not a date" in err
    assert "kiro_by_user_analytic.csv:5: has 29 columns" in err
    alex = figures(db, NOV16, NOV16)[KIRO_ALEX]
    assert alex == {
        "tool": "kiro",
        "requests": 58 + 14,  # IDE and CLI messages, from the per-client report only
        "input_tokens": 0,
        "output_tokens": 0,
        "shown": 80 + 2 + 3,
        "accepted": 21 + 1 + 2,
        "lines": 35 + 42 + 7 + 96,
        "active_days": 1,
    }
    for name in ("kiro_user_report.csv", "kiro_by_user_analytic.csv"):
        run("import", "kiro", DATA / name)
    assert figures(db, NOV16, NOV16)[KIRO_ALEX] == alex
    assert figures(db)[KIRO_BO]["requests"] == 21  # the 17th's row was rejected


def test_a_kiro_client_corrected_alone_leaves_the_other_clients(run, db, tmp_path):
    run("import", "kiro", DATA / "kiro_user_report.csv")
    lines = (DATA / "kiro_user_report.csv").read_text().splitlines()
    corrected = tmp_path / "KIRO_CLI_111122223333_user_report.csv"
    corrected.write_text(lines[0] + "\n" + lines[2].replace(",14,14,0", ",20,20,0") + "\n")
    assert run("import", "kiro", corrected)[0] == 0
    assert figures(db, NOV16, NOV16)[KIRO_ALEX]["requests"] == 58 + 20


@pytest.mark.postgres
def test_a_kiro_client_too_long_to_keep_is_named_and_the_rest_imported(run, db, tmp_path, now):
    # The client is kept in the figures' origin (128 characters, with the source and the
    # integration's name): past MAX_CLIENT_CHARS it is a bad row, as a bad figure is. The
    # longest client kept, through the longest integration name, fits.
    longest = "a" * 64
    create_integration(db, longest, now)
    report = tmp_path / "kiro.csv"
    report.write_text(
        "Date,UserId,Client_Type,Total_Messages\n"
        f"2026-11-16,u1,{'C' * 40},5\n"
        f"2026-11-16,u2,{'X' * 200},3\n"
        "2026-11-16,u3,KIRO\u0007IDE,4\n"
    )
    code, out, err = run("import", "kiro", report, "--integration", longest)
    assert code == 1
    assert f"kiro.csv:3: client must be 1 to 40 printable characters, not '{'x' * 40}…'" in err
    assert "kiro.csv:4: client must be 1 to 40 printable characters" in err
    assert "Imported 1 rows of kiro usage" in out and "2 rejected" in out
    assert list(figures(db, NOV16, NOV16)) == ["kiro:u1"]
    assert figures(db, NOV16, NOV16)["kiro:u1"]["requests"] == 5


@pytest.mark.parametrize("timezone", [ZoneInfo("Pacific/Kiritimati")])
def test_a_vendor_day_is_that_calendar_day_whatever_the_zone(run, db, timezone):
    run("import", "cursor", DATA / "cursor_daily_usage.json")
    assert figures(db, NOV16, NOV16)["email:dana@example.com"]["requests"] == 252


def test_integrations_keep_their_reports_apart(run, db, now):
    create_integration(db, "acme-eu", now)
    assert run("import", "kiro", DATA / "kiro_user_report.csv")[0] == 1
    assert run("import", "kiro", DATA / "kiro_user_report.csv", "--integration", "acme-eu")[0] == 1
    assert figures(db, NOV16, NOV16)[KIRO_ALEX]["requests"] == 2 * 72
    code, _, err = run("import", "kiro", DATA / "kiro_user_report.csv", "--integration", "nope")
    assert code == 2 and "no integration named 'nope'" in err


def test_unreadable_or_foreign_files_are_refused_whole(run, db, tmp_path):
    code, _, err = run("import", "kiro", tmp_path / "missing.csv")
    assert code == 2 and "cannot read" in err
    code, _, err = run("import", "kiro", DATA / "copilot_users_1_day.ndjson")
    assert code == 2 and "not a Kiro user-activity report" in err
    code, _, err = run("import", "cursor", DATA / "kiro_user_report.csv")
    assert code == 2 and "not Cursor daily-usage data" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [{"email": "a@b.c", "date": 1794787200000}, {"email": ')
    code, _, err = run("import", "cursor", broken)
    assert code == 2 and "line 1" in err
    with pytest.raises(SystemExit) as usage:
        main(["import", "gemini", str(DATA / "kiro_user_report.csv")])
    assert usage.value.code == 2
    assert usage_report(db, date(2026, 1, 1), date(2026, 12, 31)) == []


def test_big_files_show_progress(run, db, tmp_path):
    header = (DATA / "kiro_user_report.csv").read_text().splitlines()[0]
    big = tmp_path / "big.csv"
    with big.open("w") as out:
        out.write(header + "\n")
        for i in range(12_000):
            out.write(
                f"2026-11-16,user-{i % 3000},KIRO_IDE,1,1.5,0,0,false,p,PRO,{i % 7 + 1},1,0\n"
            )
    code, out, err = run("import", "kiro", big)
    assert code == 0
    assert "10000 rows imported so far" in err
    assert "Imported 12000 rows" in out
    shutil.rmtree(tmp_path, ignore_errors=True)

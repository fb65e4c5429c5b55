"""`aiusage import`: vendors' usage reports, re-imported, overlapping, corrected and malformed."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli.main import main
from storage.integrations import create_integration
from storage.people import link_email
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


@pytest.mark.parametrize("chunk_rows", [1000, 1], ids=["one chunk", "a chunk a row"])
def test_a_person_and_day_named_twice_in_one_file_count_once_as_the_later_row(
    run, db, tmp_path, monkeypatch, chunk_rows
):
    """A file repeating a row is read as two imports of it: the later row replaces the
    earlier, whether the two are written together or apart."""
    monkeypatch.setattr("bot.cli.imports.CHUNK_ROWS", chunk_rows)
    hubot = (DATA / "copilot_users_1_day.ndjson").read_text().splitlines()[1]
    twice = tmp_path / "twice.ndjson"
    twice.write_text(f"{hubot}\n{hubot}\n")
    code, out, err = run("import", "copilot", twice)
    assert code == 0 and "Imported 2 rows" in out
    assert "twice.ndjson:2: names a person and day an earlier row named" in err
    assert figures(db, NOV16, NOV16)["copilot:hubot"]["shown"] == 30  # not 60

    dana = json.loads((DATA / "cursor_daily_usage.json").read_text())["data"][0]
    corrected = {**dana, "chatRequests": dana["chatRequests"] + 100}
    inactive = {**dana, "isActive": False}
    cursor = tmp_path / "cursor.json"
    cursor.write_text(json.dumps({"data": [dana, corrected]}))
    assert run("import", "cursor", cursor)[0] == 0
    assert figures(db, NOV16, NOV16)["email:dana@example.com"]["requests"] == 252 + 100
    cursor.write_text(json.dumps({"data": [dana, corrected, inactive]}))
    assert run("import", "cursor", cursor)[0] == 0
    assert "email:dana@example.com" not in figures(db, NOV16, NOV16)  # the last row: no use


def test_two_reports_run_together_give_what_importing_them_one_by_one_does(run, db, tmp_path):
    """`cat a b > both` then importing `both` is importing `a` then `b`: the overlapping days
    of `b` replace those of `a`, and rows for different clients still add up."""
    one_day, month = DATA / "copilot_users_1_day.ndjson", DATA / "copilot_users_28_day.ndjson"
    run("import", "copilot", one_day)
    run("import", "copilot", month)
    one_by_one = figures(db, date(2026, 11, 1), NOV17)
    both = tmp_path / "both.ndjson"
    both.write_text(one_day.read_text() + month.read_text())
    assert run("import", "copilot", both)[0] == 1  # the month's malformed rows, as before
    assert figures(db, date(2026, 11, 1), NOV17) == one_by_one

    kiro = (DATA / "kiro_user_report.csv").read_text().splitlines()
    clients = tmp_path / "clients.csv"
    clients.write_text("\n".join([kiro[0], kiro[1], kiro[2], kiro[1]]) + "\n")
    code, _, err = run("import", "kiro", clients)
    assert code == 0 and "clients.csv:4: names a person and day" in err
    assert figures(db, NOV16, NOV16)[KIRO_ALEX]["requests"] == 58 + 14  # IDE and CLI


@pytest.mark.parametrize("source", ["copilot", "kiro", "cursor"])
def test_a_file_far_past_the_limits_is_refused_holding_no_more_than_them(
    run, db, tmp_path, monkeypatch, source
):
    """Lines are read one at a time and Cursor's document whole, each up to a limit: a file
    of 64 MiB without a line break is refused by its first line (or as a document), naming
    the limit, with about that much of it ever held in memory."""
    monkeypatch.setattr("bot.cli.imports.MAX_LINE_BYTES", 2**20)
    monkeypatch.setattr("bot.cli.imports.MAX_DOCUMENT_BYTES", 2**20)
    huge = tmp_path / "huge"
    with huge.open("wb") as sparse:
        sparse.truncate(64 * 2**20)
    tracemalloc.start()
    try:
        code, _, err = run("import", source, huge)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 2
    assert "longer than 1 MiB" in err
    assert peak < 8 * 2**20


def test_a_copilot_report_as_one_document_past_the_limit_is_refused_whole(
    run, db, tmp_path, monkeypatch
):
    """A JSON array or `day_totals` document is parsed whole, so its size is what counts,
    however it is broken into lines."""
    records = [json.loads(line) for line in (DATA / "copilot_users_1_day.ndjson").open()]
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(records, indent=2))
    limit = pretty.stat().st_size
    monkeypatch.setattr("bot.cli.imports.MAX_DOCUMENT_BYTES", limit)
    assert run("import", "copilot", pretty)[0] == 0  # at the limit: read as before
    imported = figures(db)
    pretty.write_text(json.dumps(records + records[:1], indent=2))
    code, _, err = run("import", "copilot", pretty)
    assert code == 2
    assert f"longer than {limit:,} bytes" in err
    assert "import the NDJSON report" in err
    assert figures(db) == imported


KIRO_CLIENT_HEADER = "Date,UserId,Client_Type,Total_Messages"
UNDECODABLE = {
    "kiro": (
        KIRO_CLIENT_HEADER + "\n",
        lambda who: f"2026-11-16,{who},KIRO_IDE,5\n".encode(),
        b"",
    ),
    "copilot": (
        "",
        lambda who: json.dumps({"day": "2026-11-16", "user_login": who,
                                "user_initiated_interaction_count": 5}).encode() + b"\n",
        b"",
    ),
    "cursor": (
        '{"data": [\n',
        lambda who: json.dumps({"date": 1794787200000, "email": f"{who}@example.com",
                                "chatRequests": 5}).encode() + b",\n",
        b"]}\n",
    ),
}  # fmt: skip


@pytest.mark.one_database
@pytest.mark.parametrize("source", sorted(UNDECODABLE))
def test_a_line_that_is_not_utf8_is_a_rejected_row_and_the_rest_imported(
    run, db, tmp_path, monkeypatch, source
):
    """An undecodable byte after rows already written (a chunk a row here, as every 1,000
    rows of a large file) rejects its own row, named by line, not the file."""
    monkeypatch.setattr("bot.cli.imports.CHUNK_ROWS", 1)
    head, row, tail = UNDECODABLE[source]
    body = head.encode() + row("ada") + row("bo") + row("cy") + row("dee") + tail
    body = body.replace(b"cy", b"c\xff\xfe")
    report = tmp_path / "report"
    report.write_bytes(body)
    code, out, err = run("import", source, report)
    bad_line = 3 if source == "copilot" else 4  # after the header line, if any
    assert code == 1, err
    assert f"report:{bad_line}: is not UTF-8 text (byte 0xff" in err
    assert "Imported 3 rows" in out and "1 rejected" in out
    assert len(usage_report(db, NOV16, NOV16)) == 3


@pytest.mark.one_database
def test_an_import_stopped_part_way_says_what_it_stored_and_importing_again_replaces_it(
    run, db, tmp_path, monkeypatch
):
    monkeypatch.setattr("bot.cli.imports.CHUNK_ROWS", 1)
    days = [
        {"date": 1794787200000, "email": f"p{n}@example.com", "chatRequests": 5} for n in (1, 2)
    ]
    report = tmp_path / "cursor.json"
    report.write_text('{"data": [' + ", ".join(json.dumps(d) for d in days) + ', {"email": ')
    code, _, err = run("import", "cursor", report)
    assert code == 2
    assert "line 1: not valid JSON" in err
    assert "2 rows were stored before the import stopped" in err
    assert "importing the file again replaces them" in err
    report.write_text(json.dumps({"data": [{**d, "chatRequests": 7} for d in days]}))
    assert run("import", "cursor", report)[0] == 0
    assert [line.totals.requests for line in usage_report(db, NOV16, NOV16)] == [7, 7]


@pytest.mark.one_database
def test_kiro_and_cursor_rows_accepting_more_than_shown_count_as_shown_what_was_accepted(
    run, db, tmp_path
):
    """As Copilot's: a vendor counts each accept, which can outnumber what it counted as
    shown, and the rest of the row is good, so it is kept with shown raised to accepted."""
    kiro = tmp_path / "kiro.csv"
    kiro.write_text(
        "UserId,Date,Inline_SuggestionsCount,Inline_AcceptanceCount,Dev_AcceptanceEventCount\n"
        "u1,11-16-2026,5,50,3\n"
    )
    assert run("import", "kiro", kiro)[0] == 0
    day = {"date": 1794787200000, "email": "dana@example.com", "totalTabsShown": 3,
           "totalTabsAccepted": 300, "totalApplies": 1, "totalAccepts": 80}  # fmt: skip
    cursor = tmp_path / "cursor.json"
    cursor.write_text(json.dumps({"data": [day]}))
    assert run("import", "cursor", cursor)[0] == 0
    _, out, _ = run("report", "--from", NOV16, "--to", NOV16, "--format", "json")
    shown = {row["tool"]: (row["suggestions_shown"], row["suggestions_accepted"])
             for row in json.loads(out)}  # fmt: skip
    assert shown == {"kiro": (50 + 3, 50 + 3), "cursor": (300 + 80, 300 + 80)}


@pytest.mark.one_database
@pytest.mark.parametrize(
    "header",
    [
        "Date,UserId,Client_Type,Total_Messages,Total_Messages",
        "Date,UserId,Client_Type,Total_Messages, Total_Messages ",
        "Date,UserId,Email,Client_Type,Total_Messages,email",
    ],
)
def test_a_kiro_header_naming_a_column_twice_is_refused_by_that_name(run, db, tmp_path, header):
    report = tmp_path / "kiro.csv"
    report.write_text(f"{header}\n2026-11-16,u1,KIRO_IDE,5,500\n")
    code, out, err = run("import", "kiro", report)
    twice = header.rsplit(",", 1)[1].strip()
    assert (code, out) == (2, "")
    assert err == f"aiusage: {report}: the header names the column {twice!r} twice\n"
    assert usage_report(db, NOV16, NOV16) == []

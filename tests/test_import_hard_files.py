"""`aiusage import` of hard files: a row named twice, reports imported together, files past
the limits, lines not UTF-8, a file broken off part way, and columns named twice."""

from __future__ import annotations

import json
import tracemalloc
from datetime import date

import pytest

from storage.usage_report import usage_report
from tests.import_helpers import DATA, KIRO_ALEX, NOV16, NOV17, figures


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

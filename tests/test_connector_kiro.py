"""The `kiro` connector against a local S3 (moto's server), and the report shapes that
`aiusage import` reads too: Kiro with an Email column, Copilot's day_totals document."""

from __future__ import annotations

import json
from datetime import date, timedelta

import boto3
import pytest
from moto.server import ThreadedMotoServer

from bot.connectors.kiro import KiroConnector
from storage.usage_report import usage_report

D1, D2 = date(2026, 11, 16), date(2026, 11, 17)
PREFIX = "reports/AWSLogs/111122223333/KiroLogs/user_report/us-east-1"
HEADER = "Date,UserId,Client_Type,Credits_Used,Total_Messages,claude_sonnet_4_5_messages"


@pytest.fixture(scope="module")
def s3_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server, settings, monkeypatch, request):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"kiro-{abs(hash(request.node.name)) % 10**8}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    monkeypatch.setenv("AIUSAGE_KIRO_REPORTS_URI", f"s3://{name}/reports")
    return s3, name


def put(s3, bucket: str, day: date, name: str, rows: list[str], header: str = HEADER) -> None:
    key = f"{PREFIX}/{day:%Y/%m/%d}/00/{name}.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=("\n".join([header, *rows]) + "\n").encode())


def stored(db, start=D1, end=D2):
    return {
        ((line.identity or line.email or "").removeprefix("email:"), line.tool): line.totals
        for line in usage_report(db, start, end)
    }


@pytest.mark.postgres
def test_kiro_reads_each_client_file_and_a_rewrite_supersedes(run, db, bucket):
    s3, name = bucket
    put(
        s3,
        name,
        D1,
        "KIRO_IDE_111122223333_user_report_1700000000",
        ["2026-11-16,u1,KIRO_IDE,4.5,10,10"],
    )
    put(
        s3,
        name,
        D1,
        "KIRO_CLI_111122223333_user_report_1700000000",
        ["2026-11-16,u1,KIRO_CLI,1,5,0"],
    )
    put(
        s3,
        name,
        D2,
        "KIRO_IDE_111122223333_user_report_1700090000",
        ["2026-11-17,u1,KIRO_IDE,1,7,7"],
    )
    code, _out, err = run("connectors", "sync", "kiro", "--since", D1, "--until", D2)
    assert (code, err) == (0, ""), err
    assert stored(db)[("kiro:u1", "kiro")].requests == 22
    # Kiro rewrites the IDE report for D1: the newer file replaces the older, not adds
    put(
        s3,
        name,
        D1,
        "KIRO_IDE_111122223333_user_report_1700050000",
        ["2026-11-16,u1,KIRO_IDE,4.5,12,12"],
    )
    assert run("connectors", "sync", "kiro", "--since", D1, "--until", D2)[0] == 0
    assert stored(db)[("kiro:u1", "kiro")].requests == 24


def test_kiro_email_column_matches_by_email_and_hostile_rows_are_named(run, db, bucket):
    s3, name = bucket
    header = "Date,UserId,Email,Client_Type,Credits_Used,Total_Messages"
    put(
        s3,
        name,
        D1,
        "KIRO_IDE_1_user_report_1",
        [
            "2026-11-16,u1,Ada@Example.com,KIRO_IDE,2,99999999999999999",
            "2026-11-16,u2,\"=cmd|' /C calc'!A0\",KIRO_IDE,2,3",
            "2026-11-16,u3,,KIRO_IDE,1,4",
        ],
        header,
    )
    code, out, _ = run("connectors", "sync", "kiro", "--since", D1, "--until", D1)
    assert code == 0 and "2 rejected" in out  # a figure past 10^12; a formula for an email
    figures = stored(db)
    assert ("ada@example.com", "kiro") not in figures
    assert figures[("kiro:u3", "kiro")].requests == 4


def test_kiro_refuses_a_file_with_an_endless_line_and_keeps_the_others(run, db, bucket):
    # A line is one person's day; a file that never breaks its line is not held whole.
    s3, name = bucket
    put(s3, name, D1, "KIRO_IDE_1_user_report_1", ["2026-11-16,u1,KIRO_IDE,2,5,5"])
    put(s3, name, D2, "KIRO_CLI_1_user_report_1", ["2026-11-17,u2,KIRO_CLI,1" + "0" * 2**24])
    code, _, err = run("connectors", "sync", "kiro", "--since", D1, "--until", D2)
    assert code == 1
    assert "KIRO_CLI_1_user_report_1.csv sent a line longer than 16 MiB" in err
    assert stored(db)[("kiro:u1", "kiro")].requests == 5  # the day before stays stored


def test_kiro_names_a_row_whose_field_is_too_long_and_keeps_the_rest(run, db, bucket):
    s3, name = bucket
    rows = ["2026-11-16,u1,KIRO_IDE,2,5,5", "2026-11-16,u2,KIRO_IDE," + "9" * 200_000 + ",1,1"]
    put(s3, name, D1, "KIRO_IDE_1_user_report_1", [*rows, "2026-11-16,u3,KIRO_IDE,1,4,4"])
    code, out, _ = run("connectors", "sync", "kiro", "--since", D1, "--until", D1)
    assert code == 0 and "1 rejected" in out
    figures = stored(db)
    assert figures[("kiro:u1", "kiro")].requests == 5
    assert figures[("kiro:u3", "kiro")].requests == 4


def test_kiro_missing_bucket_fails_clearly(run, db, bucket, monkeypatch):
    monkeypatch.setenv("AIUSAGE_KIRO_REPORTS_URI", "s3://no-such-bucket-here/x")
    code, _, err = run("connectors", "sync", "kiro", "--since", D1, "--until", D1)
    assert code == 1 and "NoSuchBucket" in err


def test_import_reads_kiro_with_email_and_copilot_day_totals(run, db, tmp_path):
    kiro = tmp_path / "kiro.csv"
    kiro.write_text(
        "Date,UserId,Email,Client_Type,Credits_Used,Total_Messages\n"
        "2026-11-16,u9,bo@example.com,KIRO_CLI,1,6\n"
    )
    assert run("import", "kiro", kiro)[0] == 0
    document = {
        "user_login": "Octocat",
        "day_totals": [
            {"day": "2026-11-16", "user_initiated_interaction_count": 4},
            {"day": "2026-11-17", "user_initiated_interaction_count": 6},
        ],
    }
    pretty = tmp_path / "copilot.json"
    pretty.write_text(json.dumps(document, indent=2))
    code, _out, err = run("import", "copilot", pretty)
    assert (code, err) == (0, ""), err
    one_line = tmp_path / "copilot.ndjson"
    one_line.write_text(json.dumps(document) + "\n")
    assert run("import", "copilot", one_line)[0] == 0  # the same days again: replaced
    figures = stored(db)
    assert figures[("bo@example.com", "kiro")].requests == 6
    assert figures[("copilot:octocat", "copilot")].requests == 10


def test_kiro_listing_is_followed_page_by_page(run, db, bucket, monkeypatch):
    s3, name = bucket
    monkeypatch.setattr(KiroConnector, "page_size", 2)
    for n in range(5):
        day = D1 - timedelta(days=n)
        put(s3, name, day, f"KIRO_IDE_1_user_report_{n}", [f"{day},u1,KIRO_IDE,1,{n + 1},0"])
    s3.put_object(Bucket=name, Key="reports/unrelated/readme.txt", Body=b"not a report")
    code, out, _ = run(
        "connectors", "sync", "kiro", "--since", D1 - timedelta(days=4), "--until", D1
    )
    assert code == 0 and "5 rows for 5 days" in out
    assert stored(db, D1 - timedelta(days=4), D1)[("kiro:u1", "kiro")].requests == 15


@pytest.mark.postgres
def test_kiro_rows_of_days_outside_the_calendar_are_named_and_the_rest_kept(run, db, bucket):
    # A file's rows keep their own dates (a report may be filed under the day it was
    # written), but only within the bounds every door keeps: from 2000 to tomorrow.
    s3, name = bucket
    rows = ["9999-12-31,u1,KIRO_IDE,1,5,5", "1999-12-31,u2,KIRO_IDE,1,6,6"]
    put(s3, name, D1, "KIRO_IDE_1_user_report_1", [*rows, "2026-11-16,u3,KIRO_IDE,1,4,4"])
    code, out, _ = run("connectors", "sync", "kiro", "--since", D1, "--until", D1)
    assert code == 0 and "1 rows for 1 days" in out and "2 rejected" in out
    assert list(stored(db, date.min, date.max)) == [("kiro:u3", "kiro")]


@pytest.mark.postgres
def test_kiro_a_client_too_long_to_keep_is_named_and_the_rest_kept(run, db, bucket):
    # As `aiusage import kiro` names it: the client is kept in the figures' origin.
    s3, name = bucket
    rows = ["2026-11-16,u1,KIRO_IDE,2,5,5", f"2026-11-16,u2,{'X' * 200},1,3,3"]
    put(s3, name, D1, "KIRO_IDE_1_user_report_1", rows)
    code, out, err = run("connectors", "sync", "kiro", "--since", D1, "--until", D1)
    assert (code, err) == (0, ""), err
    assert "1 rows for 1 days" in out and "1 rejected" in out
    assert list(stored(db)) == [("kiro:u1", "kiro")]

"""The `kiro` connector against a local S3 (moto's server), and the report shapes that
`aiusage import` reads too: Kiro with an Email column, Copilot's day_totals document."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from moto.server import ThreadedMotoServer

from bot.connectors.kiro import KiroConnector
from bot.connectors.registry import run_connectors
from bot.settings import load_settings
from storage.usage_report import usage_report
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.vendors import FakeS3

D1, D2 = date(2026, 11, 16), date(2026, 11, 17)
NOW = datetime(2026, 11, 20, tzinfo=UTC)
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


def test_kiro_keeps_the_later_of_two_rows_of_a_persons_day_as_import_does(run, db, bucket):
    # One row per person, day and client: a file naming one twice keeps the later row, as
    # `aiusage import kiro` of that file does; another client's row is a part of its own.
    s3, name = bucket
    rows = ["2026-11-16,u1,KIRO_IDE,1,5,5", "2026-11-16,u1,KIRO_CLI,1,2,2",
            "2026-11-16,u1,KIRO_IDE,1,7,7"]  # fmt: skip
    put(s3, name, D1, "KIRO_IDE_1_user_report_1", rows)
    code, _out, err = run("connectors", "sync", "kiro", "--since", D1, "--until", D1)
    assert (code, err) == (0, "")
    assert stored(db)[("kiro:u1", "kiro")].requests == 7 + 2


def test_kiro_reads_a_key_with_a_dot_segment_as_itself(run, db, bucket):
    # `reports/x/../AWSLogs/...` is a key of its own, not `reports/AWSLogs/...`: httpx drops
    # dot segments from a URL's path, so the presigned link asked for another object (a
    # 404 that failed every pull; on AWS, a signature that no longer matched).
    s3, name = bucket
    put(s3, name, D1, "KIRO_IDE_1_user_report_1", ["2026-11-16,u1,KIRO_IDE,1,5,5"])
    odd = PREFIX.replace("reports/", "reports/x/../", 1)
    key = f"{odd}/{D1:%Y/%m/%d}/00/KIRO_CLI_1_user_report_1.csv"
    s3.put_object(Bucket=name, Key=key, Body=f"{HEADER}\n2026-11-16,u2,KIRO_CLI,1,7,7\n".encode())
    code, _out, err = run("connectors", "sync", "kiro", "--since", D1, "--until", D1)
    assert (code, err) == (0, ""), err
    figures = stored(db)
    assert (figures[("kiro:u1", "kiro")].requests, figures[("kiro:u2", "kiro")].requests) == (5, 7)


def test_kiro_holds_a_report_to_the_answer_limit_as_it_inflates(db, settings, bucket):
    # Stored gzip-encoded, as S3 serves it: a few KB on the wire, ~0.5 MiB inflated, past
    # the client's limit (64 KiB here), so not read whole into memory.
    s3, name = bucket
    rows = "".join(f"2026-11-16,{'u' * 100}{n},KIRO_IDE,1,1,1\n" for n in range(4_000))
    body = gzip.compress(f"{HEADER}\n{rows}".encode(), 9)
    assert len(body) < 2**16 < len(rows)
    key = f"{PREFIX}/{D1:%Y/%m/%d}/00/KIRO_IDE_1_user_report_1.csv"
    s3.put_object(Bucket=name, Key=key, Body=body, ContentEncoding="gzip")
    [result] = run_connectors(
        load_settings(), db, lambda: NOW, ["kiro"], D1, D1, max_report_bytes=2**16
    )
    assert not result.ok
    assert f"Kiro report {key} sent an answer larger than 65,536 bytes" in (result.error or "")
    assert stored(db) == {}


def test_kiro_holds_a_day_to_its_record_limit(db, settings, bucket, monkeypatch):
    s3, name = bucket
    monkeypatch.setattr(KiroConnector, "max_day_records", 2, raising=False)
    put(s3, name, D1, "KIRO_IDE_1_user_report_1", ["2026-11-16,u1,KIRO_IDE,1,5,5"])
    put(
        s3,
        name,
        D1,
        "KIRO_CLI_1_user_report_1",
        [f"2026-11-16,u{n},KIRO_CLI,1,5,5" for n in (2, 3)],
    )
    [result] = run_connectors(load_settings(), db, lambda: NOW, ["kiro"], D1, D1)
    assert not result.ok
    assert "Kiro's reports for 2026-11-16 have more than 2 records" in (result.error or "")
    assert stored(db) == {}


def trickling(s3, db, marker: bytes, **client):
    """One pull of D1..D2 through a proxy that trickles S3's answers from `marker` on, a byte
    every 10 ms; how long it took."""
    proxy = TcpProxy(("127.0.0.1", int(s3.meta.endpoint_url.rsplit(":", 1)[1]))).start()
    proxy.trickle, proxy.trickle_after = 0.01, marker
    started = time.monotonic()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
            [result] = run_connectors(load_settings(), db, lambda: NOW, ["kiro"], D1, D2, **client)
    finally:
        proxy.stop()
    return result, time.monotonic() - started, proxy.port


def test_kiro_gives_up_a_report_that_trickles_and_keeps_the_days_before(db, settings, bucket):
    # No read waits long enough for botocore's read timeout, so only a deadline on the whole
    # file keeps the connectors' job (and its claim) from being held.
    s3, name = bucket
    put(s3, name, D1, "KIRO_IDE_1_user_report_1", ["2026-11-16,u1,KIRO_IDE,2,5,5"])
    stalls = [f"2026-11-17,u{n}-stalls,KIRO_CLI,1,3,3" for n in range(60)]  # 20 s to arrive
    put(s3, name, D2, "KIRO_CLI_1_user_report_1", stalls)
    result, seconds, port = trickling(s3, db, b"-stalls", deadline=1.0)
    assert seconds < 8
    assert not result.ok
    error = result.error or ""
    file = f"127.0.0.1:{port}/{name}/{PREFIX}/2026/11/17/00/KIRO_CLI_1_user_report_1.csv"
    assert f"Kiro sent its answer too slowly: not whole after 1 s at {file}" in error
    assert "X-Amz" not in error and "Signature" not in error  # the presigned link's query
    assert stored(db)[("kiro:u1", "kiro")].requests == 5  # the day before stays stored


def test_kiro_gives_up_a_listing_that_trickles(db, settings, bucket):
    s3, name = bucket
    for n in range(20):  # a listing page of 20 files: some 10 KB, over a minute to arrive
        put(s3, name, D1, f"KIRO_IDE_{n}_user_report_1", ["2026-11-16,u1,KIRO_IDE,2,5,5"])
    result, seconds, _ = trickling(
        s3, db, b"<ListBucketResult", deadline=1.0, retries=1, sleep=lambda _s: None
    )
    assert seconds < 8
    assert not result.ok
    assert "Kiro sent its answer too slowly: not whole after 1 s" in (result.error or "")
    assert "still after 2 tries" in (result.error or "")
    assert stored(db) == {}


def pull_one_report(db, fake: FakeS3, key_id: str = "testing", refused: bool = False):
    """One day's pull of a single report from `fake` (refused with 403 if `refused`)."""
    key = f"{PREFIX}/2026/11/16/00/KIRO_IDE_1_user_report_1.csv"
    fake.objects[key] = f"{HEADER}\n2026-11-16,u1,KIRO_IDE,2,5,5\n".encode()
    if refused:
        fake.refused.add(key)
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AWS_ENDPOINT_URL", fake.url)
            env.setenv("AWS_ACCESS_KEY_ID", key_id)
            env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            env.setenv("AWS_DEFAULT_REGION", "us-east-1")
            env.setenv("AIUSAGE_KIRO_REPORTS_URI", f"s3://{fake.bucket}/reports")
            [result] = run_connectors(load_settings(), db, lambda: NOW, ["kiro"], D1, D1)
    finally:
        fake.stop()
    return result


def test_kiro_stops_a_listing_whose_continuation_token_comes_round_again(db, settings):
    # S3's pages "" -> a -> b -> a -> ...: botocore saw only a token given twice in a row.
    fake = FakeS3(next_tokens={"": "a", "a": "b", "b": "a"}, max_pages=30)
    result = pull_one_report(db, fake)
    assert not result.ok
    assert (
        f"Kiro's listing of s3://{fake.bucket}/reports/ gave, after page 3, a continuation "
        "token it had given before" in (result.error or "")
    )
    listed = [c for c in fake.calls if c.query.get("list-type") == "2"]
    assert [c.query.get("continuation-token") for c in listed] == [None, "a", "b"]
    assert stored(db) == {}


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


def test_kiro_names_s3s_refusal_without_the_signed_link(db, settings):
    # S3's error answers echo the request, presigned query and all: only its code and
    # message are kept.
    fake = FakeS3()
    result = pull_one_report(db, fake, key_id="AKIATESTINGKEY", refused=True)
    assert not result.ok
    error = result.error or ""
    assert "Kiro refused the key (HTTP 403): SignatureDoesNotMatch: The request signature" in error
    assert "X-Amz" not in error and "AKIATESTINGKEY" not in error


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


@pytest.mark.one_database
def test_kiro_rejects_a_row_not_utf8_and_refuses_a_report_naming_a_column_twice(
    run, db, bucket, caplog
):
    # As `aiusage import kiro`: the same parser, the same bytes (decoded with surrogateescape).
    s3, name = bucket
    key = f"{PREFIX}/{D1:%Y/%m/%d}/00/KIRO_IDE_1_user_report_1.csv"
    body = f"{HEADER}\n2026-11-16,u1,KIRO_IDE,1,5,5\n2026-11-16,u\xff,KIRO_IDE,1,6,6\n"
    s3.put_object(Bucket=name, Key=key, Body=body.encode().replace(b"\xc3\xbf", b"\xff"))
    put(s3, name, D2, "KIRO_IDE_1_user_report_2", ["2026-11-17,u1,KIRO_IDE,1,5,500"],
        "Date,UserId,Client_Type,Credits_Used,Total_Messages,Total_Messages")  # fmt: skip
    code, _, err = run("connectors", "sync", "kiro", "--since", D1, "--until", D2)
    assert code == 1
    assert "record 3 skipped: is not UTF-8 text (byte 0xff)" in caplog.text
    assert "the header names the column 'Total_Messages' twice" in err
    assert stored(db, D1, D2) == {("kiro:u1", "kiro"): stored(db, D1, D1)[("kiro:u1", "kiro")]}
    assert stored(db, D1, D1)[("kiro:u1", "kiro")].requests == 5

"""Huge, tiny and impossible figures and times at every door (API, OTLP, imports): each is
refused by name while its neighbours are stored, and nothing stored can make a read fail."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from bot.cli.main import main
from bot.slack.listeners.errors import ERROR_TEXT
from storage import bounds
from storage.bulk import upsert_daily
from storage.figures import NAMES, is_whole
from storage.people import link_email, resolve_identities
from storage.usage_queries import person_periods
from tests.builders import event
from tests.otlp.helpers import (
    DELTA,
    NOON,
    SECOND,
    claude_resource,
    metrics,
    point,
    send,
    tokens,
)
from tests.readback import daily_usage
from tests.test_ingest_api import post

DAY_NS = 86_400 * SECOND
WEEK = "2026-W47"  # the fixed clock's week: Monday 16 to Sunday 22 November 2026


def decisions(value, **kw):
    return (
        "claude_code.code_edit_tool.decision",
        [point(value, decision="accept", tool_name="Edit", **kw)],
    )


def reads_work(slack, capsys) -> None:
    """`/aiusage top` and `me`, `aiusage awards preview` and `aiusage report` all answer."""
    for text in ("top", "me"):
        reply = slack.ask(text)
        assert ERROR_TEXT not in str(reply), text
    assert main(["awards", "preview", "--week", WEEK]) == 0
    assert main(["report", "--week", WEEK, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert main(["report", "--week", WEEK]) == 0
    list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert out


def test_points_of_2_to_the_62_are_refused_by_name_and_reads_keep_working(
    slack, api_key, db, now, capsys
):
    link_email(db, "dev@example.com", "UALICE", now)
    big = 2**62
    for days_ago in (1, 2):
        moment = NOON - days_ago * DAY_NS
        message = metrics(
            tokens(big, time=moment, start=moment - SECOND),
            decisions(big, time=moment, start=moment - SECOND),
            tokens(10, "output", time=moment, start=moment - SECOND),  # a neighbour
            temporality=DELTA,
        )
        response = send(slack.http, api_key, message)
        assert response.status_code == 200
        answer = ExportMetricsServiceResponse.FromString(response.content)
        assert answer.partial_success.rejected_data_points == 2
        assert "value must be from 0 to 1e+12" in answer.partial_success.error_message
        assert "claude_code.token.usage" in answer.partial_success.error_message
    days = daily_usage(db, date(2026, 11, 16), date(2026, 11, 17))
    assert sorted((d.day.day, d.totals.output_tokens, d.totals.input_tokens) for d in days) == [
        (16, 10, 0),
        (17, 10, 0),
    ]
    reads_work(slack, capsys)


@pytest.mark.parametrize("as_json", [False, True], ids=["protobuf", "json"])
def test_impossible_values_and_times_are_refused_beside_good_points(
    client, api_key, db, now, as_json
):
    link_email(db, "dev@example.com", "UDEV", now)
    message = metrics(
        ("claude_code.cost.usage", [point(1e300, model="m"), point(2e6, model="n")]),
        tokens(1e300, time=NOON - 3 * SECOND, start=NOON - 4 * SECOND),
        tokens(5, time=NOON - 60 * SECOND, start=2**63 + 5),  # start past 2^63
        tokens(6, time=2**64 - 1),  # the largest time a fixed64 holds
        tokens(7, time=NOON - 10 * SECOND, start=NOON),  # starts after it ends
        tokens(8, time=946_684_799 * SECOND, start=0),  # 1999-12-31 23:59:59
        tokens(42, "output"),  # the one good point
        temporality=DELTA,
    )
    response = send(client, api_key, message, as_json=as_json)
    assert response.status_code == 200
    if as_json:
        partial = response.json()["partialSuccess"]
        rejected, error = int(partial["rejectedDataPoints"]), partial["errorMessage"]
    else:
        answer = ExportMetricsServiceResponse.FromString(response.content)
        rejected = answer.partial_success.rejected_data_points
        error = answer.partial_success.error_message
    assert rejected == 7
    for words in (
        "claude_code.cost.usage: value must be from 0 to 1,000,000",
        "start_time_unix_nano is after time_unix_nano",
        "time_unix_nano is more than 5 minutes in the future",
        "time_unix_nano is missing or before 2000-01-01",
        "claude_code.token.usage: value must be from 0 to 1e+12",
    ):
        assert words in error, words
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.totals.output_tokens, day.totals.input_tokens, day.totals.cost_usd) == (42, 0, None)


BAD_EMAILS = [
    "dev @example.com",
    "dev@exa mple.com",
    "a" * (3 * 1024 * 1024) + "@example.com",
    "dev@@example.com",
    "dev@-example.com",
    "<script>@example.com",
]


def test_otlp_identities_must_be_valid_emails_or_bounded_names(client, api_key, db, now):
    link_email(db, "dev@example.com", "UDEV", now)
    bad = [metrics(tokens(1), resource=claude_resource(email)) for email in BAD_EMAILS]
    bad.append(metrics(tokens(1), resource=claude_resource("x" * 321)))  # not an email: too long
    bad.append(metrics(tokens(1), resource=claude_resource("tab\tinside")))
    for message in bad:
        response = send(client, api_key, message)
        assert response.status_code == 200
        answer = ExportMetricsServiceResponse.FromString(response.content)
        assert answer.partial_success.rejected_data_points == 1
        assert len(answer.partial_success.error_message) <= 1000
        assert "email is not a valid address" in answer.partial_success.error_message or (
            "otlp identity" in answer.partial_success.error_message
        )
    assert daily_usage(db, date(2026, 11, 18), date(2026, 11, 18)) == []
    assert all(len(value) <= 320 for _, value in db.identity_ids)
    ok = send(client, api_key, metrics(tokens(3), resource=claude_resource("Dev@Example.COM")))
    assert (
        ExportMetricsServiceResponse.FromString(ok.content).partial_success.rejected_data_points
        == 0
    )


def test_log_records_with_impossible_times_are_refused_by_name(client, api_key, db, now):
    link_email(db, "dev@example.com", "UDEV", now)
    records = [
        LogRecord(
            time_unix_nano=nanos,
            body=AnyValue(string_value="claude_code.api_request"),
            attributes=[KeyValue(key="model", value=AnyValue(string_value="m"))],
        )
        for nanos in (2**64 - 1, 1, NOON)
    ]
    message = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(resource=claude_resource(), scope_logs=[ScopeLogs(log_records=records)])
        ]
    )
    response = send(client, api_key, message, path="/v1/logs")
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_log_records == 2
    assert "more than 5 minutes in the future" in answer.partial_success.error_message
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.totals.requests == 1


def test_the_api_refuses_out_of_bounds_items_by_name_and_stores_the_rest(client, api_key, db):
    batch = [
        event(occurred_at="0001-01-01T00:00:00+14:00"),
        event(occurred_at="1999-12-31T23:59:59Z"),
        event(input_tokens=bounds.MAX_COUNT + 1),
        event(requests=2**63),
        event(cost_usd=1e300),
        event(user={"email": "dev @example.com"}),
        event(user={"email": "a" * 400 + "@example.com"}),
        event(input_tokens=bounds.MAX_COUNT),  # at the bound: accepted
    ]
    answer = post(client, api_key, {"events": batch}).json()
    assert answer["accepted"] == 1
    errors = {item["index"]: item["error"] for item in answer["rejected"]}
    assert sorted(errors) == list(range(7))
    assert errors[0].startswith("occurred_at:") and "out of range" in errors[0]
    assert errors[1] == "occurred_at: is before 2000-01-01"
    assert errors[2].startswith("input_tokens:") and errors[3].startswith("requests:")
    assert errors[4].startswith("cost_usd:")
    assert "not a valid address" in errors[5] and errors[6].startswith("user.email:")


def test_imports_refuse_out_of_bounds_rows_by_line_number(db, tmp_path, capsys):
    kiro = tmp_path / "kiro.csv"
    kiro.write_text(
        "Date,UserId,Client_Type,Total_Messages\n"
        f"2026-11-16,huge,KIRO_IDE,{2**62}\n"
        "2026-11-16,fine,KIRO_IDE,4\n"
        "1900-01-01,ancient,KIRO_IDE,1\n"
        "2126-01-01,future,KIRO_IDE,1\n"
        f"2026-11-16,{'x' * 400},KIRO_IDE,1\n"
    )
    assert main(["import", "kiro", str(kiro)]) == 1
    err = capsys.readouterr().err
    assert f"kiro.csv:2: Total_Messages must be from 0 to 1e+12, not {2**62}" in err
    assert "kiro.csv:4: day 1900-01-01 is before 2000 or in the future" in err
    assert "kiro.csv:5: day 2126-01-01" in err
    assert "kiro.csv:6: kiro identity must be 1 to 320 characters" in err
    cursor = tmp_path / "cursor.json"
    items = [
        {"date": 10**20, "email": "a@example.com", "chatRequests": 1},
        {"date": 1795046400000, "email": "b@example.com", "chatRequests": 2**62},
        {"date": 1795046400000, "email": "c d@example.com", "chatRequests": 1},
        {"date": 1795046400000, "email": "ok@example.com", "chatRequests": 3},
    ]
    cursor.write_text(json.dumps({"data": items}, indent=2))
    assert main(["import", "cursor", str(cursor)]) == 1
    err = capsys.readouterr().err
    assert err.count("cursor.json:") == 3 and "is not a date" in err
    day = date(2026, 11, 16)
    stored = {d.totals.requests for d in daily_usage(db, day, day)}
    assert stored == set()  # nobody linked yet; the rows are under their identities
    assert main(["report", "--week", WEEK, "--format", "json"]) == 0
    rows = orjson.loads(capsys.readouterr().out)
    assert {row["identity"]: row["requests"] for row in rows} == {
        "kiro:fine": 4,
        "email:ok@example.com": 3,
    }


def test_a_report_naming_a_person_over_and_over_keeps_the_last_row(db, tmp_path, capsys):
    """Each repeat replaces the one before, as importing it again would: nothing to add up,
    so nothing to saturate (a connector's whole day still adds up; see test_connector_child)."""
    kiro = tmp_path / "kiro.csv"
    rows = [f"2026-11-16,huge,KIRO_IDE,{bounds.MAX_COUNT}"] * 1001 + [
        "2026-11-16,twice,KIRO_IDE,4",
        "2026-11-16,twice,KIRO_IDE,5",
    ]
    kiro.write_text("Date,UserId,Client_Type,Total_Messages\n" + "\n".join(rows) + "\n")
    assert main(["import", "kiro", str(kiro)]) == 0
    capsys.readouterr()
    assert main(["report", "--week", WEEK, "--format", "json"]) == 0
    found = {row["identity"]: row["requests"] for row in orjson.loads(capsys.readouterr().out)}
    assert found == {"kiro:huge": bounds.MAX_COUNT, "kiro:twice": 5}


def test_a_day_of_many_maximal_batches_saturates_instead_of_overflowing(client, api_key, db):
    batch = [event(input_tokens=bounds.MAX_COUNT, output_tokens=0) for _ in range(1000)]
    for _ in range(3):
        for item in batch:
            item["event_id"] += "x"
        assert post(client, api_key, {"events": batch}).json()["accepted"] == 1000
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.totals.input_tokens == bounds.DAY_CAP


def test_no_amount_of_stored_figures_makes_a_read_fail(slack, db, now, capsys):
    """Ten tools a day at the rollup's cap for three years: the sums pass 2^63, and every
    read still answers, saturated."""
    link_email(db, "dev@example.com", "UALICE", now)
    with db.write() as conn:
        identity = resolve_identities(conn, [("email", "dev@example.com")], now)[
            ("email", "dev@example.com")
        ]
        first = date(2026, 11, 22) - timedelta(days=1099)
        rows = [
            {
                "identity_id": identity,
                "day": first + timedelta(days=offset),
                "tool": f"tool-{tool}",
                "kind": "agent",
                "origin": "events",
                **{
                    name: bounds.DAY_CAP if is_whole(name) else bounds.COST_DAY_CAP
                    for name in NAMES
                },
                "events": bounds.DAY_CAP,
            }
            for offset in range(1100)
            for tool in range(10)
        ]
        upsert_daily(conn, rows, replace=False)
    [period] = person_periods(db, first, date(2026, 11, 22))
    assert period.totals.input_tokens == bounds.INT64_MAX
    assert period.totals.suggestions_accepted == bounds.INT64_MAX
    assert period.totals.commits == period.totals.pull_requests == bounds.INT64_MAX
    reads_work(slack, capsys)
    assert main(["report", "--from", first.isoformat(), "--to", "2026-11-22"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {row["input_tokens"] for row in rows} == {str(1100 * bounds.DAY_CAP)}  # per tool

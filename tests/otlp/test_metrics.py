"""POST /v1/metrics: OTLP bodies from Claude Code, hand-made for the edge cases: cumulative
and delta series, shipped work, people named on the point or the resource, gzip, bad requests."""

from __future__ import annotations

import gzip

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from sqlalchemy import func, select

from bot.intake.encodings import BadEncoding, gunzip
from storage.models import EventRow
from tests.builders import bearer
from tests.otlp.helpers import (
    CUMULATIVE,
    DAY,
    DELTA,
    NOON,
    SECOND,
    claude_resource,
    metrics,
    point,
    send,
    today,
    tokens,
)
from tests.readback import daily_usage


@pytest.mark.parametrize("as_json", [False, True], ids=["protobuf", "json"])
def test_a_cumulative_series_counts_only_its_increase(client, api_key, db, person, as_json):
    for value, offset in [(100, 0), (250, 60), (250, 120), (400, 180)]:
        response = send(client, api_key, metrics(tokens(value, time=NOON + offset * SECOND)))
        assert response.status_code == 200, response.text
    resent = send(client, api_key, metrics(tokens(250, time=NOON + 60 * SECOND)), as_json=as_json)
    assert resent.status_code == 200
    day = today(db)
    assert (day.tool, day.kind, day.totals.input_tokens) == ("claude-code", "agent", 400)


def test_the_answer_matches_the_request_encoding(client, api_key, person):
    proto = send(client, api_key, metrics(tokens(5)))
    assert proto.headers["content-type"] == "application/x-protobuf"
    assert ExportMetricsServiceResponse.FromString(proto.content) == ExportMetricsServiceResponse()
    as_json = send(client, api_key, metrics(tokens(6)), as_json=True)
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == {}


def test_a_counter_reset_or_new_start_time_is_a_restart_not_a_negative(client, api_key, db, person):
    start = NOON - 60 * SECOND
    for value, offset, began in [
        (100, 0, start),
        (30, 60, start),  # dropped: the process restarted without a new start time
        (50, 120, start),
        (10, 180, NOON + 170 * SECOND),  # a new start time: a new run of the series
    ]:
        send(client, api_key, metrics(tokens(value, time=NOON + offset * SECOND, start=began)))
    # an export from the old run arriving late changes nothing
    send(client, api_key, metrics(tokens(70, time=NOON + 240 * SECOND, start=start)))
    assert today(db).totals.input_tokens == 100 + 30 + 20 + 10


def test_a_counter_climbing_by_fractions_counts_its_rounded_total(client, api_key, db, person):
    for step in range(1, 11):  # 0.4, 0.8 … 4.0 output tokens, as a double
        sent = send(client, api_key, metrics(tokens(step * 4 / 10, "output", time=NOON + step)))
        assert sent.status_code == 200
    assert today(db).totals.output_tokens == 4
    # only the points where the rounded total moved (0.8, 1.6, 2.8, 3.6) left an event
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(EventRow)) == 4


def test_delta_points_add_up_and_a_resent_export_counts_once(client, api_key, db, person):
    first = metrics(tokens(40, time=NOON), tokens(7, "output", time=NOON), temporality=DELTA)
    second = metrics(tokens(60, time=NOON + 60 * SECOND), temporality=DELTA)
    for message in (first, second, first):
        assert send(client, api_key, message, as_json=True).status_code == 200
    totals = today(db).totals
    assert (totals.input_tokens, totals.output_tokens) == (100, 7)


def test_claude_code_metrics_map_to_usage_fields(client, api_key, db, person):
    message = metrics(
        tokens(1000, "input"),
        tokens(300, "output"),
        tokens(5000, "cacheRead"),
        tokens(200, "cacheCreation"),
        ("claude_code.cost.usage", [point(0.75, model="claude-sonnet-4-5")]),
        ("claude_code.lines_of_code.count", [point(40, type="added"), point(9, type="removed")]),
        (
            "claude_code.code_edit_tool.decision",
            [
                point(3, decision="accept", tool_name="Edit", language="Python"),
                point(1, decision="reject", tool_name="Write", language="Python"),
            ],
        ),
        ("claude_code.session.count", [point(2)]),
        ("claude_code.commit.count", [point(1)]),
        ("some.other.metric", [point(99)]),
    )
    assert send(client, api_key, message).status_code == 200
    totals = today(db).totals
    assert (totals.input_tokens, totals.output_tokens) == (1200, 300)
    assert totals.cost_usd == pytest.approx(0.75)
    assert totals.lines_accepted == 40
    assert (totals.suggestions_shown, totals.suggestions_accepted) == (4, 3)
    assert totals.requests == 0
    assert (totals.commits, totals.pull_requests) == (1, None)  # no PR counter was sent


@pytest.mark.parametrize("temporality", [CUMULATIVE, DELTA], ids=["cumulative", "delta"])
def test_commit_and_pull_request_counters_are_shipped_work(
    client, api_key, db, person, temporality
):
    def shipped(commits: int, pulls: int, at: int):
        return metrics(
            ("claude_code.commit.count", [point(commits, time=at)]),
            ("claude_code.pull_request.count", [point(pulls, time=at)]),
            temporality=temporality,
        )

    first, second = shipped(2, 1, NOON), shipped(5, 1, NOON + 60 * SECOND)
    for message in (first, second, second):  # the last is a resend
        assert send(client, api_key, message).status_code == 200
    totals = today(db).totals
    expected = (5, 1) if temporality == CUMULATIVE else (7, 2)
    assert (totals.commits, totals.pull_requests) == expected


def test_a_shipped_work_point_out_of_bounds_is_rejected(client, api_key, db, person):
    message = metrics(
        ("claude_code.commit.count", [point(1e13)]),
        ("claude_code.pull_request.count", [point(float("nan"))]),
        ("claude_code.pull_request.count", [point(-1.0)]),
        ("claude_code.commit.count", [point(3, time=NOON + SECOND)]),
    )
    answer = ExportMetricsServiceResponse.FromString(send(client, api_key, message).content)
    assert answer.partial_success.rejected_data_points == 3
    assert today(db).totals.commits == 3


def test_points_nobody_can_be_named_for_are_a_partial_success(client, api_key, db, person):
    anonymous = metrics(tokens(10), tokens(20, "output"), resource=claude_resource(email=None))
    known = metrics(tokens(5))
    message = ExportMetricsServiceRequest(
        resource_metrics=[*anonymous.resource_metrics, *known.resource_metrics]
    )
    response = send(client, api_key, message)
    answer = ExportMetricsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_data_points == 2
    assert "user.email" in answer.partial_success.error_message
    as_json = send(client, api_key, message, as_json=True).json()
    assert as_json["partialSuccess"]["rejectedDataPoints"] == "2"
    assert today(db).totals.input_tokens == 5


def test_a_point_user_email_that_names_nobody_falls_back_to_the_resource(
    client, api_key, db, person
):
    message = metrics(
        tokens(10, user__email=42),  # a number where a string belongs: no one is named
        tokens(20, "output", user__email="  "),
    )
    answer = send(client, api_key, message, as_json=True).json()
    assert answer == {}
    totals = today(db).totals
    assert (totals.input_tokens, totals.output_tokens) == (10, 20)


def test_a_future_point_is_rejected(client, api_key, person):
    response = send(client, api_key, metrics(tokens(10, time=NOON + 600 * SECOND)), as_json=True)
    assert response.json()["partialSuccess"]["rejectedDataPoints"] == "1"


def test_gzip_bodies_are_read_and_bombs_refused(client, api_key, db, person):
    assert send(client, api_key, metrics(tokens(12)), gzipped=True).status_code == 200
    assert today(db).totals.input_tokens == 12
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024))
    headers = {
        **bearer(api_key),
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
    }
    assert client.post("/v1/metrics", content=bomb, headers=headers).status_code == 413
    with pytest.raises(BadEncoding) as truncated:
        gunzip(gzip.compress(b"x" * 1000)[:-8], 10_000)
    assert truncated.value.status == 400


def test_bad_requests_are_refused_before_anything_is_stored(client, api_key, db, person):
    message = metrics(tokens(10)).SerializeToString()
    assert client.post("/v1/metrics", content=message).status_code == 401
    assert (
        client.post(
            "/v1/metrics", content=message, headers={**bearer("aiu_x_y"), "Content-Type": "x"}
        ).status_code
        == 401
    )
    cases = [
        ("text/plain", None, message, 415),
        ("application/x-protobuf", "br", message, 415),
        ("application/x-protobuf", None, b"\xff\xff\xff", 400),
        ("application/json", None, b"{nope", 400),
        ("application/json", None, b'{"resourceMetrics": 5}', 400),
        ("application/x-protobuf", "gzip", b"not gzip", 400),
    ]
    for content_type, encoding, body, status in cases:
        headers = {**bearer(api_key), "Content-Type": content_type}
        if encoding:
            headers["Content-Encoding"] = encoding
        response = client.post("/v1/metrics", content=body, headers=headers)
        assert response.status_code == status, (content_type, encoding, response.text)
    assert daily_usage(db, DAY, DAY) == []

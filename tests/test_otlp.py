"""POST /v1/metrics and /v1/logs: OTLP bodies from Claude Code, hand-made for the edge cases."""

from __future__ import annotations

import base64
import gzip
import threading
from datetime import date

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from sqlalchemy import func, select

from bot.intake.encodings import BadEncoding, gunzip
from storage.models import EventRow
from storage.people import link_email, link_identity
from tests.builders import bearer
from tests.readback import daily_usage

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
NOON = 1_795_003_200 * 10**9  # 2026-11-18 12:00 UTC, the fixed clock's now
SECOND = 10**9
DAY = date(2026, 11, 18)


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def claude_resource(email: str | None = "dev@example.com") -> Resource:
    attrs = [kv("service.name", "claude-code"), kv("service.version", "2.0.14")]
    if email:
        attrs.append(kv("user.email", email))
    return Resource(attributes=attrs)


def point(value: float, *, time: int = NOON, start: int = NOON - 60 * SECOND, **attrs):
    number = NumberDataPoint(
        start_time_unix_nano=start,
        time_unix_nano=time,
        attributes=[kv(k.replace("__", "."), v) for k, v in attrs.items()],
    )
    if isinstance(value, float):
        number.as_double = value
    else:
        number.as_int = value
    return number


def metrics(*pairs, temporality=CUMULATIVE, resource=None) -> ExportMetricsServiceRequest:
    """A request with one resource; pairs are (metric name, [points])."""
    built = [
        Metric(
            name=name,
            unit="tokens",
            sum=Sum(data_points=points, aggregation_temporality=temporality, is_monotonic=True),
        )
        for name, points in pairs
    ]
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=resource or claude_resource(),
                scope_metrics=[ScopeMetrics(metrics=built)],
            )
        ]
    )


def tokens(value: int, kind: str = "input", **kw):
    return ("claude_code.token.usage", [point(value, type=kind, model="claude-sonnet-4-5", **kw)])


def otlp_json(message) -> dict:
    """The message as OTLP/JSON writes it: protobuf's JSON mapping with hex trace ids."""
    data = json_format.MessageToDict(message)
    for resource in data.get("resourceLogs", []):
        for scope in resource.get("scopeLogs", []):
            for record in scope.get("logRecords", []):
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64decode(record[key]).hex()
    return data


def send(client, key, message, *, as_json=False, gzipped=False, path="/v1/metrics"):
    if as_json:
        body = orjson.dumps(otlp_json(message))
        content_type = "application/json"
    else:
        body = message.SerializeToString()
        content_type = "application/x-protobuf"
    headers = {**bearer(key), "Content-Type": content_type}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return client.post(path, content=body, headers=headers)


@pytest.fixture
def person(db, now):
    """dev@example.com, known to Slack as UDEV, so the usage counts."""
    link_email(db, "dev@example.com", "UDEV", now)


def today(db):
    [day] = daily_usage(db, DAY, DAY)
    return day


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


def api_request_log(time: int, **extra) -> LogRecord:
    attrs = {
        "event.name": "api_request",
        "event.timestamp": "2026-11-18T12:00:00.000Z",
        "session.id": "9d4c5e7a",
        "user.email": "dev@example.com",
        "model": "claude-sonnet-4-5",
        "input_tokens": "1200",
        "output_tokens": "300",
        "cost_usd": "0.012",
        "duration_ms": "2300",
        **extra,
    }
    return LogRecord(
        time_unix_nano=time,
        body=AnyValue(string_value="claude_code.api_request"),
        attributes=[kv(k, v) for k, v in attrs.items()],
        trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"),
    )


def logs(*records: LogRecord) -> ExportLogsServiceRequest:
    resource = Resource(attributes=[kv("service.name", "claude-code")])
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(resource=resource, scope_logs=[ScopeLogs(log_records=list(records))])
        ]
    )


def test_api_request_events_count_requests_once(client, api_key, db, person):
    prompt = LogRecord(
        time_unix_nano=NOON,
        body=AnyValue(string_value="claude_code.user_prompt"),
        attributes=[kv("user.email", "dev@example.com"), kv("prompt_length", "42")],
    )
    message = logs(api_request_log(NOON), api_request_log(NOON + SECOND), prompt)
    for as_json in (False, True, False):
        response = send(client, api_key, message, as_json=as_json, path="/v1/logs")
        assert response.status_code == 200, response.text
    answer = ExportLogsServiceResponse.FromString(
        send(client, api_key, message, path="/v1/logs").content
    )
    assert not answer.HasField("partial_success")
    totals = today(db).totals
    # tokens and cost arrive as metrics; the event only says a request was made
    assert (totals.requests, totals.input_tokens) == (2, 0)


def test_identical_api_requests_of_two_people_named_on_the_resource_count_for_each(
    client, api_key, db, person, now
):
    link_email(db, "other@example.com", "UOTHER", now)

    def request_of(email: str) -> ResourceLogs:
        record = LogRecord(
            time_unix_nano=NOON,
            event_name="claude_code.api_request",
            attributes=[kv("model", "claude-sonnet-4-5")],
        )
        return ResourceLogs(
            resource=claude_resource(email), scope_logs=[ScopeLogs(log_records=[record])]
        )

    both = ExportLogsServiceRequest(
        resource_logs=[request_of("dev@example.com"), request_of("other@example.com")]
    )
    for _ in range(2):  # the second is a resend: a duplicate for each, not new requests
        assert send(client, api_key, both, path="/v1/logs").status_code == 200
    assert [day.totals.requests for day in daily_usage(db, DAY, DAY)] == [1, 1]


def test_json_logs_carry_hex_trace_ids_and_name_rejections(client, api_key, person):
    body = otlp_json(logs(api_request_log(NOON)))
    record = body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    assert record["traceId"] == "5b8efff798038103d269b633813fc60c"
    anonymous = dict(
        record, attributes=[a for a in record["attributes"] if a["key"] != "user.email"]
    )
    body["resourceLogs"][0]["scopeLogs"][0]["logRecords"].append(anonymous)
    headers = {**bearer(api_key), "Content-Type": "application/json"}
    answer = client.post("/v1/logs", content=orjson.dumps(body), headers=headers).json()
    assert answer["partialSuccess"]["rejectedLogRecords"] == "1"
    body_bad = dict(body)
    record["traceId"] = "not-hex"
    assert (
        client.post("/v1/logs", content=orjson.dumps(body_bad), headers=headers).status_code == 400
    )


def test_a_configured_attribute_names_people_who_have_no_email(
    settings, services, client, api_key, db, now, monkeypatch
):
    services.settings = settings.model_copy(
        update={"otlp_user_attributes": ("user.email", "user.account_uuid")}
    )
    resource = Resource(
        attributes=[kv("service.name", "claude-code"), kv("user.account_uuid", "acct-7f3e")]
    )
    answer = send(client, api_key, metrics(tokens(80), resource=resource), as_json=True).json()
    assert answer == {}
    assert daily_usage(db, DAY, DAY) == []  # kept, but nobody to count it for yet
    link_identity(db, "otlp", "acct-7f3e", "UACCT", "admin", now)
    assert today(db).totals.input_tokens == 80


def test_the_openapi_document_names_the_otlp_paths(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/metrics", "/v1/logs"):
        assert "application/x-protobuf" in paths[path]["post"]["requestBody"]["content"]
        assert paths[path]["post"]["security"] == [{"integrationKey": []}]


def test_concurrent_exports_of_one_series_count_each_increase_once(services, api_key, db, person):
    """Collectors racing to send one cumulative series, first while it is new, then once it
    exists: whichever commits first, the series counts exactly its last value."""
    from bot.intake.otlp_payload import map_metrics
    from storage.integrations import authenticate
    from storage.otlp_series import record_sum_points

    integration = authenticate(db, api_key)

    def race(*values_at):
        exports = [
            map_metrics(
                metrics(tokens(value, time=NOON + offset * SECOND)),
                user_attributes=("user.email",),
                now=services.clock(),
            ).points
            for value, offset in values_at
        ]
        barrier = threading.Barrier(len(exports))

        def send_points(points):
            barrier.wait()
            record_sum_points(db, integration.id, points, services.clock())

        threads = [threading.Thread(target=send_points, args=(p,)) for p in exports]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    race((100, 0), (160, 60))
    assert today(db).totals.input_tokens == 160
    race((200, 120), (230, 180), (260, 240))
    assert today(db).totals.input_tokens == 260

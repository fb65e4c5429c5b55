"""POST /v1/logs: Claude Code's api_request events, hand-made for the edge cases, and exports
of one series arriving together."""

from __future__ import annotations

import threading

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from storage.people import link_email, link_identity
from tests.builders import bearer
from tests.otlp.helpers import (
    DAY,
    NOON,
    SECOND,
    api_request_log,
    claude_resource,
    kv,
    logs,
    metrics,
    otlp_json,
    send,
    today,
    tokens,
)
from tests.readback import daily_usage


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

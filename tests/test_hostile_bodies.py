"""Hostile bodies at the OTLP receiver and the events API: bombs, floods of empty objects and
deep nesting are answered 400 or 413 quickly, and a burst past the decode limit gets 503."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from starlette.testclient import TestClient

import bot.composition
from bot.api.decode_gate import Busy, DecodeGate
from bot.composition import create_http_app
from bot.intake.body_limits import TooComplex, check_json, check_protobuf
from storage.people import link_email
from tests.builders import bearer, event
from tests.otlp.helpers import (
    DELTA,
    NOON,
    api_request_log,
    logs,
    metrics,
    otlp_json,
    point,
    send,
    tokens,
)

# Bodies are refused before the database is reached: this runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

# A generous budget for a shared CI machine: it catches the minutes these bodies used to
# take; bench/hostile_bodies.py measures the real times (tens to a few hundred ms).
QUICK_S = 2.0
MiB = 1024 * 1024


def otlp(client, key, body: bytes, *, as_json: bool, gzipped: bool = False, path="/v1/metrics"):
    headers = {
        **bearer(key),
        "Content-Type": "application/json" if as_json else "application/x-protobuf",
    }
    if gzipped:
        body = gzip.compress(body, 9)
        headers["Content-Encoding"] = "gzip"
    started = time.monotonic()
    response = client.post(path, content=body, headers=headers)
    return response, time.monotonic() - started


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, written by hand: the SDK refuses to build deep ones."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def nested_any_value(depth: int) -> bytes:
    """A request whose one resource attribute is an array nested `depth` deep."""
    value = field(1, b"x")  # AnyValue.string_value
    for _ in range(depth):
        value = field(5, field(1, value))  # AnyValue.array_value -> ArrayValue.values
    key_value = field(1, b"deep") + field(2, value)
    return field(1, field(1, field(1, key_value)))  # resource_metrics.resource.attributes


HOSTILE = {
    # name: (body, made when the test runs; as_json, gzipped, expected status)
    "json empty objects, gzip (15 MiB inflated)": (
        lambda: b'{"resourceMetrics":[' + b"{}," * (5 * MiB) + b"{}]}",
        True,
        True,
        413,
    ),
    "protobuf empty messages, gzip (14 MiB inflated)": (
        lambda: b"\x0a\x00" * (7 * MiB),
        False,
        True,
        413,
    ),
    "protobuf empty messages, plain (8 MiB)": (
        lambda: b"\x0a\x00" * (4 * MiB - 1),
        False,
        False,
        413,
    ),
    "gzip bomb past the inflate cap": (lambda: b"\x00" * (64 * MiB), True, True, 413),
    "json arrays 1,000 deep": (
        lambda: b'{"resourceMetrics":' + b"[" * 1000 + b"]" * 1000 + b"}",
        True,
        False,
        400,
    ),
    # Brackets inside strings pair with the real ones: counted raw, this looks one level deep.
    "json arrays 1,000 deep behind brackets in strings": (
        lambda: b'{"resourceMetrics":' + b'["]",' * 1000 + b"1" + b',"["]' * 1000 + b"}",
        True,
        False,
        400,
    ),
    "json objects 100,000 deep": (
        lambda: b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        True,
        True,
        400,
    ),
    "protobuf values 60 deep": (lambda: nested_any_value(60), False, False, 400),
    "protobuf values 5,000 deep": (lambda: nested_any_value(5_000), False, True, 400),
    "protobuf cut short": (lambda: b"\x0a\xff\xff\x03" + b"\x00" * 400_000, False, False, 400),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_otlp_bodies_are_refused_quickly(client, api_key, name, caplog):
    make, as_json, gzipped, status = HOSTILE[name]
    response, took = otlp(client, api_key, make(), as_json=as_json, gzipped=gzipped)
    assert response.status_code == status, response.text
    assert took < QUICK_S, f"{name}: {took:.2f}s"
    assert not [r for r in caplog.records if r.exc_info]
    # and the receiver still works
    ok = send(client, api_key, metrics(tokens(3)))
    assert ok.status_code == 200


API_HOSTILE = {
    "empty objects": (b'{"events":[' + b"{}," * 349_000 + b"{}]}", 413),
    "arrays 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, 400),
    # Read as a whole JSON string by a regular expression, this took minutes (backtracking).
    "escaped quotes in a string never closed": (
        b'{"events":[{"event_id":"' + b'\\",' * 150_000,
        413,
    ),
    "objects 500 deep in an attribute": (
        b'{"events":[{"attributes":' + b'{"a":' * 500 + b"1" + b"}" * 500 + b"}]}",
        400,
    ),
}


@pytest.mark.parametrize("name", list(API_HOSTILE))
def test_hostile_api_bodies_are_refused_quickly(client, api_key, name, caplog):
    body, status = API_HOSTILE[name]
    started = time.monotonic()
    response = client.post(
        "/api/v1/events",
        content=body,
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert time.monotonic() - started < QUICK_S
    assert not [r for r in caplog.records if r.exc_info]


def test_valid_bodies_are_never_refused_for_commas_in_their_strings(client, api_key, db):
    # 1,000 events of 210 commas each (with escapes before them), and one OTLP/JSON string
    # of 450,000 commas: each far past the limit counted raw, each a few thousand values.
    note = '\\"""' + "," * 210
    batch = [event(event_id=f"c{i}", attributes={"note": note}) for i in range(1000)]
    response = client.post("/api/v1/events", json={"events": batch}, headers=bearer(api_key))
    assert response.json() == {"accepted": 1000, "duplicates": 0, "rejected": []}
    export = otlp_json(logs(api_request_log(NOON, note="," * 450_000)))
    response, _ = otlp(client, api_key, orjson.dumps(export), as_json=True, path="/v1/logs")
    assert response.status_code == 200, response.text


def test_an_api_body_one_level_past_the_limit_is_refused_by_name(client, api_key):
    # Nine deep, far inside the parser's own limit: a clean batch skips the depth check
    # (its model is four deep), so this pins that a deeper one still meets it.
    nine_deep = {"events": [{**event(), "attributes": {"a": [[[[[]]]]]}}]}
    deep = orjson.dumps(nine_deep)
    response = client.post(
        "/api/v1/events",
        content=deep,
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "body nests deeper than 8 levels"},
    )


def test_a_full_collector_batch_is_still_taken(client, api_key, db, now):
    link_email(db, "dev@example.com", "UDEV", now)
    points = [point(1, type="input", model="m", session__id=f"s{i}") for i in range(8192)]
    message = metrics(("claude_code.token.usage", points), temporality=DELTA)
    for as_json in (False, True):
        response = send(client, api_key, message, as_json=as_json, gzipped=True)
        assert response.status_code == 200, response.text


def test_a_burst_past_the_decode_limit_is_told_to_retry(services, api_key, monkeypatch):
    monkeypatch.setattr(bot.composition, "DecodeGate", lambda: DecodeGate(slots=1, wait_s=0.05))
    inside, release = threading.Event(), threading.Event()
    real_clock = services.clock

    def clock():
        if threading.current_thread() is not threading.main_thread() and not release.is_set():
            inside.set()
            release.wait(10)
        return real_clock()

    services.clock = clock
    with TestClient(create_http_app(services)) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.post, "/api/v1/events", json=event(), headers=bearer(api_key))
        assert inside.wait(10)  # the first request holds the only decode slot
        second = client.post("/api/v1/events", json=event(), headers=bearer(api_key))
        release.set()
        assert second.status_code == 503
        assert second.headers["retry-after"] == "1"
        assert first.result(10).status_code == 200


def test_the_gate_lets_waiters_in_as_slots_free():
    async def scenario() -> list[str]:
        gate = DecodeGate(slots=1, wait_s=2.0)
        log: list[str] = []

        async def use(name: str, hold: float) -> None:
            try:
                log.append(await gate.run(lambda: time.sleep(hold) or name))
            except Busy:
                log.append(f"{name} busy")

        await asyncio.gather(use("a", 0.1), use("b", 0), use("c", 0))
        short = DecodeGate(slots=1, wait_s=0.01)
        await asyncio.gather(use_gate(short, "d", 0.2, log), use_gate(short, "e", 0, log))
        return log

    assert asyncio.run(scenario()) == ["a", "b", "c", "e busy", "d"]


async def use_gate(gate: DecodeGate, name: str, hold: float, log: list[str]) -> None:
    try:
        log.append(await gate.run(lambda: time.sleep(hold) or name))
    except Busy:
        log.append(f"{name} busy")


def test_limits_count_structure_not_text():
    # Brackets and commas inside strings are text, not values, however many there are;
    # an escaped quote does not end a string, an escaped backslash before a quote does.
    check_json(b'{"a":"' + b"[{," * 6 + b'"}', max_values=10, max_depth=3)
    check_json(b'{"a":"' + b"[[[[[[" + b'"}', max_values=10, max_depth=3)
    check_json(b'{"a":"' + b"[{," * 300_000 + b'"}', max_values=10, max_depth=3)
    check_json(b'{"a":"\\"' + b",," * 10 + b'\\\\"}', max_values=10, max_depth=3)
    with pytest.raises(TooComplex):
        check_json(b'{"a":"\\\\"' + b",1" * 11 + b"}", max_values=10, max_depth=3)
    with pytest.raises(TooComplex):
        check_json(b"[" + b"1," * 11 + b"1]", max_values=10, max_depth=3)
    with pytest.raises(TooComplex):
        check_json(b"[[[[1]]]]", max_values=10, max_depth=3)
    request = metrics(tokens(1)).SerializeToString()
    check_protobuf(request, ExportMetricsServiceRequest.DESCRIPTOR, max_messages=50, max_depth=12)
    with pytest.raises(TooComplex):
        check_protobuf(
            request, ExportMetricsServiceRequest.DESCRIPTOR, max_messages=3, max_depth=12
        )


@pytest.mark.parametrize("max_depth", [1, 2, 3, 4, 7, 8])
def test_the_fast_depth_check_agrees_with_walking_every_bracket(max_depth):
    """Nesting is judged by removing innermost pairs a level at a time; random bodies get
    the verdict a walk over every bracket outside strings gives."""
    import json
    import random

    rng = random.Random(max_depth)

    def value(depth: int) -> object:
        if depth == 0 or rng.random() < 0.2:
            return rng.choice([1, "a,b", None, True, "]]", "[{", '\\"]', "}]["])
        items = [value(depth - 1) for _ in range(rng.randint(0, 3))]
        return items if rng.random() < 0.5 else {str(i): v for i, v in enumerate(items)}

    def walked(body: bytes) -> bool:
        depth = deepest = 0
        inside = escaped = False
        for ch in body.decode():
            if inside:
                inside, escaped = (escaped or ch != '"'), (not escaped and ch == "\\")
            elif ch == '"':
                inside = True
            elif ch in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif ch in "]}":
                depth -= 1
        return deepest > max_depth

    for _ in range(300):
        body = json.dumps(value(rng.randint(0, 12))).encode()
        refused = False
        try:
            check_json(body, max_values=10**6, max_depth=max_depth)
        except TooComplex:
            refused = True
        assert refused == walked(body), body

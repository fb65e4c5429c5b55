"""Gzip bodies at the events API and the OTLP doors: every member of a multi-member body is
read (RFC 1952 2.2; what pigz and streaming clients send), the inflate limit holds over them
all, and bytes after the last member refuse the body."""

from __future__ import annotations

import gzip
import time
from datetime import date

import orjson

from storage.people import link_email
from tests.builders import bearer, event
from tests.otlp.helpers import DAY, metrics, tokens
from tests.readback import daily_usage

GZIP_JSON = {"Content-Type": "application/json", "Content-Encoding": "gzip"}


def post_events(client, key, body: bytes):
    return client.post("/api/v1/events", content=body, headers={**bearer(key), **GZIP_JSON})


def in_two_members(whole: bytes) -> bytes:
    half = len(whole) // 2
    return gzip.compress(whole[:half]) + gzip.compress(whole[half:])


def test_a_body_of_several_gzip_members_is_read_whole(client, api_key, db):
    batch = {"events": [event(event_id=f"m{i}", input_tokens=10) for i in range(3)]}
    body = in_two_members(orjson.dumps(batch))
    assert gzip.decompress(body) == orjson.dumps(batch)  # as Python's own gzip reads it
    answer = post_events(client, api_key, body).json()
    assert answer == {"accepted": 3, "duplicates": 0, "rejected": []}


def test_bytes_after_the_last_gzip_member_refuse_the_body(client, api_key, db):
    whole = gzip.compress(orjson.dumps(event(event_id="trailed")))
    garbage = post_events(client, api_key, whole + b"\x00garbage-not-gzip")
    assert (garbage.status_code, garbage.json()) == (
        400,
        {"error": "gzip body has bytes after its end that are not gzip"},
    )
    cut = post_events(client, api_key, whole + whole[:12])  # a second member cut short
    assert (cut.status_code, cut.json()) == (400, {"error": "gzip body is truncated"})
    assert daily_usage(db, date(2026, 1, 1), date(2026, 12, 31)) == []


def test_the_inflate_limit_holds_over_all_members(client, api_key, db):
    # Each member inflates to under 1 MiB, the two together to more.
    batch = orjson.dumps({"events": [event()]})
    body = gzip.compress(batch + b" " * 600_000) + gzip.compress(b" " * 600_000)
    refused = post_events(client, api_key, body)
    assert (refused.status_code, refused.json()) == (
        413,
        {"error": "decompressed body is larger than 1048576 bytes"},
    )


def test_an_otlp_export_of_several_gzip_members_is_read_whole(client, api_key, db, now):
    link_email(db, "dev@example.com", "UDEV", now)
    headers = {
        **bearer(api_key),
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
    }
    body = in_two_members(metrics(tokens(12)).SerializeToString())
    assert client.post("/v1/metrics", content=body, headers=headers).status_code == 200
    [day] = daily_usage(db, DAY, DAY)
    assert day.totals.input_tokens == 12


def test_a_body_of_a_great_many_empty_members_is_answered_quickly(client, api_key):
    # 20 bytes each, 50,000 in a mebibyte: zlib copies what follows each member's end, so
    # fed the whole rest each time this was quadratic (a minute and a half for 8 MiB at OTLP).
    empty = gzip.compress(b"", mtime=0)
    started = time.monotonic()
    response = post_events(client, api_key, empty * (1024 * 1024 // len(empty)))
    assert time.monotonic() - started < 2.0
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]

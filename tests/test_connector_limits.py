"""Connectors against vendors that trickle their answers, inflate them past the size limit or
send a report line that never ends: given up at the deadline or refused, never held."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson

from bot.connectors.registry import run_connectors
from bot.settings import load_settings
from storage.connectors import connector_states
from tests.connector_helpers import D1, copilot_record, cursor_record, figures, pull


def test_a_vendor_that_trickles_its_answer_is_given_up_at_the_deadline(db, settings, cursor_api):
    # A byte every 50 ms: no read waits long enough to time out, and the whole answer would
    # take about 20 s. The pull gives up after its deadline instead of holding the
    # connectors' job (and its claim across replicas) for as long as the vendor likes.
    cursor_api.records = [cursor_record("ada@example.com", D1)]
    cursor_api.trickle = 0.05
    started = time.monotonic()
    result = pull(db, "cursor", sleep=lambda _s: None, retries=1, deadline=1.0)
    assert time.monotonic() - started < 8
    assert not result.ok
    assert "Cursor sent its answer too slowly: not whole after 1 s" in (result.error or "")
    assert len(cursor_api.calls) == 2  # retried once, as a timeout is
    assert connector_states(db)["cursor"].failing

    cursor_api.trickle = None  # the vendor recovers: the next pull is not held up
    result = pull(db, "cursor")
    assert result.ok and result.rows == 1


def test_a_report_download_that_trickles_is_fetched_again_then_given_up(db, settings, github):
    github.users = {D1: [[copilot_record("octocat", D1)]]}
    github.trickle, github.trickle_paths = 0.05, "/download/"
    started = time.monotonic()
    result = pull(db, "copilot", sleep=lambda _s: None, retries=0, deadline=1.0)
    assert time.monotonic() - started < 10
    assert not result.ok
    error = result.error or ""
    assert "report file 1 for 2026-11-16 could not be downloaded" in error
    assert "sent its answer too slowly" in error and "s3cr3t" not in error
    assert len(github.calls_to(f"/download/users/{D1}/0")) == 3  # a fresh link, twice
    assert ("copilot:octocat", "copilot") not in figures(db)

    github.trickle = None
    assert pull(db, "copilot").ok
    assert figures(db)[("copilot:octocat", "copilot")].suggestions_shown == 10


def test_an_answer_past_the_size_limit_is_refused_as_it_inflates(db, settings, cursor_api):
    # Counted once decoded: a compressed answer small on the wire can inflate a thousandfold,
    # and held whole it would grow the replica until the kernel killed it, every sync.
    cursor_api.records = [cursor_record(f"dev{n}@example.com", D1) for n in range(3000)]
    cursor_api.gzip = True
    result = pull(db, "cursor", sleep=lambda _s: None, max_bytes=64 * 1024)
    assert not result.ok
    assert "Cursor sent an answer larger than 65,536 bytes" in (result.error or "")
    assert len(cursor_api.calls) == 1  # the same answer again would not help
    assert connector_states(db)["cursor"].failing

    result = pull(db, "cursor")  # under the usual limit, a compressed answer is read as ever
    assert result.ok and result.rows == 3000


def test_a_window_too_large_to_take_whole_is_asked_for_in_halves(db, settings, cursor_api):
    # A month of a large team's usage can pass the limit; its days, asked for apart, do not.
    days = [D1 + timedelta(days=n) for n in range(4)]
    cursor_api.records = [
        cursor_record(f"dev{n}@example.com", day) for day in days for n in range(400)
    ]
    now = datetime(2026, 11, 25, tzinfo=UTC)
    [result] = run_connectors(
        load_settings(), db, lambda: now, ["cursor"], days[0], days[-1], max_bytes=160 * 1024
    )
    assert result.ok and result.rows == 1600
    asked = [orjson.loads(call.body) for call in cursor_api.calls]
    spans = [(a["endDate"] + 1 - a["startDate"]) // 86_400_000 for a in asked]
    assert spans == [4, 2, 2]  # the whole window, then its halves, which fit


def test_a_report_line_past_the_limit_is_refused_without_a_fresh_link(db, settings, github):
    padded = {**copilot_record("octocat", D1), "note": "x" * 8192}  # one line, 8 KB and more
    github.users = {D1: [[copilot_record("hubot", D1), padded]]}
    result = pull(db, "copilot", sleep=lambda _s: None, max_line=4096)
    assert not result.ok
    error = result.error or ""
    assert "GitHub report download sent a line longer than 4,096 bytes" in error
    assert "s3cr3t" not in error
    assert len(github.calls_to(f"/download/users/{D1}/0")) == 1

    assert pull(db, "copilot").ok  # lines of any sane length are read as ever
    assert figures(db)[("copilot:octocat", "copilot")].suggestions_shown == 10

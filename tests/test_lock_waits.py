"""A request that meets a lock someone else holds for long (a forget, a long job, an operator's
psql session) gives up within seconds on PostgreSQL: 503 with Retry-After on the HTTP API,
the apology on Slack, in time for Slack's 3-second deadline. It used to wait as long as the
lock was held, and every request touching the same rows with it, each holding a worker thread
and a pooled connection. Nothing of the request is stored, and its resend counts once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from starlette.testclient import TestClient

from bot.composition import build_scheduler, create_http_app
from bot.slack.listeners.errors import ERROR_TEXT
from storage.engine import REQUEST_LOCK_TIMEOUT_MS
from storage.people import link_email
from tests.builders import bearer, event
from tests.otlp.helpers import DAY, metrics, send, today, tokens
from tests.pg_stalls import holding_rows
from tests.readback import daily_usage
from tests.test_database_outage import answered_within, assert_retry_shortly, holding_lock_on
from tests.test_database_outage import requests_stored as requests_counted

pytestmark = pytest.mark.postgres

GIVES_UP_AFTER = REQUEST_LOCK_TIMEOUT_MS / 1000
SLACK_ACK_DEADLINE = 3.0


@pytest.fixture(autouse=True)
def postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("lock_timeout is PostgreSQL's; SQLite's writers wait out a busy timeout")


def timed(call):
    started = time.monotonic()
    result = answered_within(15, call)
    return result, time.monotonic() - started


def test_the_requests_figures_held_by_another_transaction_are_503_in_seconds(
    database_url, services, db, api_key
):
    """The day's figures of the person, locked by a long transaction: the batch that adds to
    them gives up after the lock timeout, stores none of its events, and is taken whole
    (once) when sent again after the lock is let go."""
    a, b, c = (event(event_id=name) for name in "abc")
    with TestClient(create_http_app(services), raise_server_exceptions=False) as client:

        def send(*events: dict) -> object:
            batch = {"events": list(events)}
            return client.post("/api/v1/events", json=batch, headers=bearer(api_key))

        assert send(a).json()["accepted"] == 1
        with holding_rows(database_url, "SELECT * FROM usage_daily"):
            refused, took = timed(lambda: send(b, c))
        assert_retry_shortly(refused)
        assert GIVES_UP_AFTER <= took < GIVES_UP_AFTER + 2
        assert requests_counted(db) == 1  # b and c: neither event nor figures stored
        again = send(b, c)
        assert again.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
        assert send(b, c).json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert requests_counted(db) == 3


def test_otlp_behind_a_table_lock_is_503_and_its_resend_counts_once(
    database_url, services, db, api_key, now
):
    """An operator's LOCK TABLE (a manual repair, an ALTER) on the raw events: an OTLP
    exporter is told to retry, which it does, rather than wait with its batch."""
    link_email(db, "dev@example.com", "UDEV", now)
    with TestClient(create_http_app(services), raise_server_exceptions=False) as client:
        with holding_lock_on(database_url, "usage_events"):
            refused, took = timed(lambda: send(client, api_key, metrics(tokens(400))))
        assert_retry_shortly(refused)
        assert GIVES_UP_AFTER <= took < GIVES_UP_AFTER + 2
        assert daily_usage(db, DAY, DAY) == []
        for _ in range(2):
            assert send(client, api_key, metrics(tokens(400))).status_code == 200
    assert today(db).totals.input_tokens == 400


def test_a_slash_command_behind_a_held_lock_is_apologised_for_within_slacks_deadline(
    database_url, slack
):
    """`/aiusage me` answered in the ack while a migration or an operator holds the figures'
    table: the caller is told to try again before Slack gives up on the ack, and `me` answers
    again once the lock is let go."""
    slack.ask("help")  # Alice is known, so `me` is answered in the ack
    with holding_lock_on(database_url, "usage_daily"):
        refused, took = timed(lambda: slack.command("me"))
    assert refused.status_code == 200
    assert refused.json() == {
        "response_type": "ephemeral",
        "text": ERROR_TEXT,
        "replace_original": False,
    }
    assert took < SLACK_ACK_DEADLINE
    assert slack.command("me").json()["text"] != ERROR_TEXT


@contextmanager
def lock_held_for(database_url: str, table: str, seconds: float) -> Iterator[None]:
    """`table` locked by another connection, as a long job or an operator would, and let go
    `seconds` later, longer than a request waits."""
    taken = threading.Event()

    def hold() -> None:
        with holding_lock_on(database_url, table):
            taken.set()
            time.sleep(seconds)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert taken.wait(10), "the lock was not taken"
    try:
        yield
    finally:
        holder.join(seconds + 10)


HELD_S = GIVES_UP_AFTER + 1.5


@pytest.mark.parametrize("argv", [["db", "prune"], ["people", "forget", "UALICE"]])
def test_a_command_waits_for_a_lock_as_long_as_it_is_held(database_url, client, api_key, run, argv):
    """Maintenance an operator runs is not cut short: it waits, as psql does, and is done."""
    assert client.post("/api/v1/events", json=event(), headers=bearer(api_key)).status_code == 200
    with lock_held_for(database_url, "usage_daily", HELD_S):
        (code, _out, err), took = timed(lambda: run(*argv))
    assert (code, err) == (0, "")
    assert took >= HELD_S - 0.5  # waited until the lock was let go


def test_a_scheduled_job_waits_for_a_lock_as_long_as_it_is_held(database_url, services):
    """The daily retention run as `serve`'s scheduler runs it, claim and all: nobody waits
    on its answer, and given up it would come back only the next day."""
    jobs = {name: run for name, _, run in build_scheduler(services).planned()}
    with lock_held_for(database_url, "usage_daily", HELD_S):
        _, took = timed(jobs["retention"])
    assert took >= HELD_S - 0.5  # waited until the lock was let go

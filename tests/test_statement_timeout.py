"""A request whose statement is slow for any reason (a bad plan, an I/O stall, a huge sort)
gives up on PostgreSQL within seconds: 503 with Retry-After on the HTTP API, the apology on
Slack within its 3-second deadline, nothing stored. It used to hold a worker thread and a
pooled connection for as long as the database took. Jobs and commands are not cut off, and a
`statement_timeout` the database URL names wins. SQLite has no statement limit: untouched."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from sqlalchemy import exc as sa_exc

import storage.engine
from bot.composition import build_scheduler, create_http_app
from bot.demo.walkthrough import serving
from bot.slack.listeners import commands
from bot.slack.listeners.commands import ACK_STATEMENT_TIMEOUT_MS
from bot.slack.listeners.errors import ERROR_TEXT
from storage.db import Database
from storage.engine import REQUEST_STATEMENT_TIMEOUT_MS
from tests.builders import bearer, event
from tests.conftest import PG_ADMIN_URL
from tests.fault_helpers import wait_until
from tests.otlp.helpers import DAY, metrics, otlp_json, tokens
from tests.pg_stalls import stalled_reads, stalled_writes
from tests.readback import daily_usage
from tests.test_database_outage import assert_retry_shortly, requests_stored, serving_on
from tests.test_deploy_recipe import instructions

pytestmark = pytest.mark.postgres

SLACK_ACK_DEADLINE = 3.0


@pytest.fixture(autouse=True)
def postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("statement_timeout is PostgreSQL's; SQLite has no statement limit")


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


GIVES_UP_AFTER = REQUEST_STATEMENT_TIMEOUT_MS / 1000
STALL_S = GIVES_UP_AFTER + 3  # what a request waited before


def test_a_stalled_ingest_statement_is_503_through_the_served_api(
    database_url, services, db, api_key, caplog
):
    """A batch and an OTLP export whose insert stalls, sent to `serve`'s HTTP server: told
    to retry after the request's statement limit, nothing of them stored, the limit named in
    the log line and nothing of the batch; sent again once the stall is over, taken once."""
    a, b = (event(event_id=f"batch-item-{name}") for name in "ab")
    export = otlp_json(metrics(tokens(400)))
    with serving(create_http_app(services)) as base, httpx.Client(base_url=base) as http:

        def send() -> httpx.Response:
            batch = {"events": [a, b]}
            return http.post("/api/v1/events", json=batch, headers=bearer(api_key), timeout=30)

        def export_otlp() -> httpx.Response:
            return http.post("/v1/metrics", json=export, headers=bearer(api_key), timeout=30)

        with stalled_writes(database_url, "usage_events", STALL_S):
            refused, took = timed(send)
            refused_otlp, took_otlp = timed(export_otlp)
        for answer, seconds in ((refused, took), (refused_otlp, took_otlp)):
            assert_retry_shortly(answer)
            assert GIVES_UP_AFTER <= seconds < GIVES_UP_AFTER + 2
        assert daily_usage(db, DAY, DAY) == []  # neither the batch nor the export
        said = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
        assert said == [
            "POST /api/v1/events: database unavailable: canceling statement due to statement "
            "timeout",
            "POST /v1/metrics: database unavailable: canceling statement due to statement timeout",
        ]
        assert "batch-item" not in caplog.text and "Traceback" not in caplog.text
        assert send().json() == {"accepted": 2, "duplicates": 0, "rejected": []}
        assert send().json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert requests_stored(db) == 2


def test_a_slash_command_whose_read_stalls_is_apologised_for_within_slacks_deadline(
    database_url, slack, caplog
):
    """`/aiusage me`, answered in the ack, while its figures' read stalls: the caller is told
    to try again before Slack gives up on the ack, and one log line says which limit was hit;
    `me` answers again once the stall is over."""
    assert ACK_STATEMENT_TIMEOUT_MS / 1000 < SLACK_ACK_DEADLINE - 0.4
    slack.ask("help")  # Alice is known, so `me` is answered in the ack
    with stalled_reads(database_url, "usage_daily", SLACK_ACK_DEADLINE + 3):
        refused, took = timed(lambda: slack.command("me"))
    assert refused.status_code == 200
    assert refused.json() == {
        "response_type": "ephemeral",
        "text": ERROR_TEXT,
        "replace_original": False,
    }
    assert took < SLACK_ACK_DEADLINE
    [line] = [r for r in caplog.records if r.name == "aiusage.slack"]
    assert line.getMessage() == (
        "slack request failed: database unavailable: canceling statement due to statement timeout"
    )
    assert line.levelno == logging.WARNING and line.exc_info is None
    assert slack.command("me").json()["text"] != ERROR_TEXT


SHORT_LIMIT_MS = 300
SHORT_STALL_S = 1.0


def test_jobs_and_commands_are_not_cut_off(database_url, services, db, api_key, run, monkeypatch):
    """Under a request limit shorter than a stalled read takes (here 0.3 s against 1 s, to
    keep the test short): a request is cut off, while the scheduled retention run, as `serve`
    runs it, and `db prune` wait for the statement and finish, as they would for a lock."""
    monkeypatch.setattr(storage.engine, "REQUEST_STATEMENT_TIMEOUT_MS", SHORT_LIMIT_MS)
    with serving_on(services, database_url) as client:
        with stalled_writes(database_url, "usage_events", SHORT_STALL_S):
            refused = client.post("/api/v1/events", json=event(), headers=bearer(api_key))
        assert_retry_shortly(refused)
        jobs = {name: job for name, _, job in build_scheduler(services).planned()}
        with stalled_reads(database_url, "usage_daily", SHORT_STALL_S):
            _, took = timed(jobs["retention"])
            assert took >= SHORT_STALL_S
            (code, _out, err), took = timed(lambda: run("db", "prune"))
            assert (code, err) == (0, "")
            assert took >= SHORT_STALL_S


def test_a_statement_timeout_the_url_names_wins(database_url, services, api_key, monkeypatch):
    """An operator's `options=-cstatement_timeout=…` in the database URL is the limit, for
    requests and jobs alike: none (0) lets a stalled batch finish where the request limit
    would cut it off, and 100 ms cuts off even the retention run."""
    monkeypatch.setattr(storage.engine, "REQUEST_STATEMENT_TIMEOUT_MS", SHORT_LIMIT_MS)
    unlimited = database_url + "%20-cstatement_timeout%3D0"
    with serving_on(services, unlimited) as client:
        with stalled_writes(database_url, "usage_events", SHORT_STALL_S):
            taken = client.post("/api/v1/events", json=event(), headers=bearer(api_key))
        assert taken.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    services.db = Database(database_url + "%20-cstatement_timeout%3D100", services.db.tz)
    try:
        jobs = {name: job for name, _, job in build_scheduler(services).planned()}
        with (
            stalled_reads(database_url, "usage_daily", SHORT_STALL_S),
            pytest.raises(sa_exc.OperationalError, match="due to statement timeout"),
        ):
            jobs["retention"]()
    finally:
        services.db.dispose()


def test_the_weeks_ranking_is_not_cut_off_at_one_acks_limit(database_url, slack, monkeypatch):
    """The first `top` of a week sums everyone's week, after its ack, for every `top` after it
    to use: under the database's own limit, not the ack's (made shorter than the sum takes
    here), or every `top` would begin it again and be cut off again, all week."""
    monkeypatch.setattr(commands, "ACK_STATEMENT_TIMEOUT_MS", SHORT_LIMIT_MS)
    slack.ask("help")
    everyones_week = "%GROUP BY usage_daily.identity_id%"
    with stalled_reads(database_url, "usage_daily", SHORT_STALL_S, when=everyones_week):
        acked, took = timed(lambda: slack.command("top", response_url="first"))
        assert (acked.status_code, acked.content) == (200, b"")  # answered after the ack
        assert took < SHORT_STALL_S
        [answer] = wait_until("the first top's reply", lambda: slack.responses("first"), 30)
        assert answer["text"] != ERROR_TEXT
        again, took = timed(lambda: slack.command("top"))
    assert again.json()["text"] != ERROR_TEXT  # in its ack
    assert took < SHORT_STALL_S  # the ranking was kept


@pytest.fixture
def short_request_limit(monkeypatch) -> None:
    """The request limit made shorter than a stalled sum takes, before the app's engine is
    made (request it ahead of `slack`)."""
    monkeypatch.setattr(storage.engine, "REQUEST_STATEMENT_TIMEOUT_MS", SHORT_LIMIT_MS)


@pytest.fixture
def an_admin(settings, fake_slack, monkeypatch) -> str:
    """UADMIN, an admin by AIUSAGE_ADMINS, set before the app's settings are read."""
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    fake_slack.add_user("UADMIN", name="ada", tz="UTC")
    return "UADMIN"


def test_sums_that_every_view_shares_run_under_the_databases_own_limit(
    database_url, short_request_limit, an_admin, slack, api_key
):
    """The week's ranking and the organisation's figures are summed once for every `top` and
    `org` after: at 100,000 people a sum takes seconds, so a request's limit (made shorter
    than the stalled sums here) must not cut them off, or no one would ever see either."""
    slack.ask("help")
    five = [event(user={"slack_user_id": f"UP{i}"}, requests=3) for i in range(5)]
    stored = slack.http.post("/api/v1/events", json={"events": five}, headers=bearer(api_key))
    assert stored.json()["accepted"] == 5, stored.json()
    sums = "%GROUP BY%"
    with stalled_reads(database_url, "usage_daily", SHORT_STALL_S, when=sums):
        top, took = timed(lambda: slack.ask("top"))  # the first: answered after its ack
        assert top["text"] != ERROR_TEXT
        assert took >= SHORT_STALL_S
        org = slack.ask("org", user_id=an_admin)
    assert "AI cost and efficiency, week 2026-W47" in org["text"], org


# /readyz under a stall long enough that one waiting out a request's statement limit (5 s) would
# be seen; it must answer before the image's health check gives up on it.
READYZ_STALL_S = 6.0


def health_check_timeout() -> float:
    """Seconds the image's HEALTHCHECK waits for /readyz's answer (its urlopen's timeout)."""
    [health] = instructions("HEALTHCHECK")
    [seconds] = re.findall(r"timeout=([0-9.]+)\)", health)
    return float(seconds)


@contextmanager
def locked(database_url: str, table: str) -> Iterator[None]:
    """`table` held under ACCESS EXCLUSIVE by another session (a migration's ALTER, an
    operator's `LOCK TABLE` in psql), so every read of it waits."""
    schema = database_url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(PG_ADMIN_URL) as holder:
        holder.execute(f"SET search_path = {schema}")
        holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            holder.rollback()


@pytest.mark.parametrize(
    ("stall", "table", "error"),
    [
        ("reads", "alembic_version", "database schema cannot be read"),
        ("reads", "meta", "database schema cannot be read"),
        ("lock", "alembic_version", "database schema cannot be read"),
    ],
)
def test_readyz_under_a_stalled_database_answers_503_promptly(
    database_url, services, stall, table, error
):
    """What `/readyz` reads (the migrations' revision, the zone the days are cut in) stalls
    or waits on a lock: `serve`'s /readyz answers 503 within its own statement limit, before
    the image's health check gives up on it, so the check sees the replica unready instead of
    timing out on it; once the stall is over it is ready again, with nothing to restart.
    Before, it answered after the request's limit (5 s), or the lock wait's (2 s)."""
    stalled = (
        stalled_reads(database_url, table, READYZ_STALL_S)
        if stall == "reads"
        else locked(database_url, table)
    )
    with serving(create_http_app(services)) as base, httpx.Client(base_url=base) as http:
        assert http.get("/readyz").json() == {"status": "ready"}
        with stalled:
            answer, took = timed(lambda: http.get("/readyz", timeout=READYZ_STALL_S * 2))
        assert answer.status_code == 503
        assert answer.json() == {"status": "unavailable", "error": error}
        assert took < health_check_timeout()
        assert http.get("/readyz").json() == {"status": "ready"}

"""`aiusage serve` and the week's ranking behind `/aiusage top`, as separate processes: a
restarted `serve` sums the week in the background at start, so the first `top` after it is
answered in its ack; and a `top` acknowledged while that sum was still running, its `serve`
SIGKILLed before the reply, is answered once by the `serve` started after it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.demo.fake_slack import FakeSlack
from storage.owed_replies import owed_replies
from tests.builders import bearer
from tests.fault_helpers import Aiusage, replies_to, slack_serving, wait_until
from tests.pg_stalls import stalled_reads
from tests.slack_command_helpers import text_of, worked
from tests.slack_requests import signed_headers, slash_command

EVERYONES_WEEK = "%GROUP BY usage_daily.identity_id%"  # the ranking's sum
WARMED = "aiusage_ranking_seconds_count 1.0"  # one ranking computed


@pytest.fixture
def fake():
    server = FakeSlack()
    server.add_user("UNEW", name="newcomer", tz="Europe/Berlin")
    yield server.start()
    server.stop()


@pytest.fixture
def procs(database_url, fake, tmp_path):
    runner = slack_serving(database_url, fake.api_url, tmp_path, "xoxb-top-warm-up")
    yield runner
    runner.stop_all()


def top(fake: FakeSlack, base: str, name: str, text: str = "top") -> httpx.Response:
    body = slash_command(text, user_id="UNEW", response_url=fake.response_url(name))
    return httpx.post(f"{base}/slack/events", content=body.encode(), headers=signed_headers(body))


def used_this_week(procs: Aiusage, fake: FakeSlack, api_key: str, db) -> None:
    """A `serve` that took UNEW's usage of this (real) week and learned who UNEW is, then
    was stopped once help's reply was settled: the state a restart finds. (Killed between
    the reply and its row's deletion, the next `serve` would send help's reply again.)"""
    serve, base = procs.serve()
    moment = datetime.now(UTC) - timedelta(minutes=1)
    usage = worked("UNEW", moment.date().isoformat(), hour=f"{moment.hour:02d}")
    usage["occurred_at"] = moment.isoformat()
    stored = httpx.post(f"{base}/api/v1/events", json=usage, headers=bearer(api_key))
    assert stored.json()["accepted"] == 1, stored.text
    assert top(fake, base, "help", "help").content == b""  # users.info, after the ack
    wait_until("help's reply", lambda: replies_to(fake, "help"))
    wait_until("help's owed row to go", lambda: owed_replies(db) == [], 10)
    procs.kill(serve)


def test_a_restarted_serve_warms_the_ranking_so_the_first_top_is_answered_in_its_ack(
    db, fake, procs, api_key
):
    used_this_week(procs, fake, api_key, db)
    _serve, base = procs.serve()
    wait_until("the warm-up's ranking", lambda: WARMED in httpx.get(f"{base}/metrics").text)
    ack = top(fake, base, "first")
    assert ack.status_code == 200 and ack.content, "answered after the ack, not in it"
    assert "1. <@UNEW>" in text_of(ack.json()), ack.json()
    time.sleep(0.3)
    assert replies_to(fake, "first") == [] and owed_replies(db) == []


@pytest.mark.postgres
def test_a_top_owed_when_serve_was_killed_mid_sum_is_answered_once_by_the_next_serve(
    database_url, db, fake, procs, api_key
):
    if database_url.startswith("sqlite"):
        pytest.skip("the sum is held at the database's side by a PostgreSQL view")
    used_this_week(procs, fake, api_key, db)
    with stalled_reads(database_url, "usage_daily", 20, when=EVERYONES_WEEK):
        serve, base = procs.serve()  # its warm-up's sum sleeps in the database
        ack = top(fake, base, "owed")
        assert (ack.status_code, ack.content) == (200, b"")  # answered later, through the URL
        [owed] = owed_replies(db)
        assert (owed.slack_user_id, owed.text) == ("UNEW", "top")
        procs.kill(serve)
        assert replies_to(fake, "owed") == []
    _serve, _base = procs.serve()
    [answer] = wait_until("the owed reply", lambda: replies_to(fake, "owed"), 60)
    assert answer["response_type"] == "ephemeral"
    assert "1. <@UNEW>" in text_of(answer), text_of(answer)
    wait_until("the owed reply's row to go", lambda: owed_replies(db) == [], 10)
    time.sleep(1.5)  # five more re-drive passes (every 0.3 s here): none sends it again
    assert len(replies_to(fake, "owed")) == 1
    assert "answering UNEW's command again" in procs.output(procs.count)

"""The fault-injection suite: real `aiusage` processes killed with SIGKILL mid-post and
mid-batch, restarted, and a fake Slack (loopback HTTP) that times out after doing the work,
answers 5xx and 429 with Retry-After, drops connections, lags in its history, and answers
"failed" to a post it made. On both databases: no acknowledged event is lost or counted
twice, and every post reaches every channel exactly once. docs/reliability.md ("Faults")
lists what is tried here and how to run it."""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.demo.fake_slack import FakeSlack
from jobs.weeks import last_complete_week
from storage.integrations import create_integration
from storage.models import DailyRow, EventRow
from storage.outbox import pending_posts
from storage.posts import post_claims
from tests.builders import bearer
from tests.fault_helpers import Aiusage, wait_until
from tests.post_helpers import seed_award_week

# One channel per fault, so one award post meets every fault at once.
CHANNELS = ("CKILL", "CTIMEOUT", "C5XX", "C429", "CFAILED", "CDROP")


@pytest.fixture
def fake():
    server = FakeSlack(channels=set(CHANNELS)).start()
    server.history_lag = 0.6  # a new post shows in history only later (check delay: 0.9 s)
    yield server
    server.stop()


@pytest.fixture
def procs(database_url, fake, tmp_path):
    runner = Aiusage(
        {
            "AIUSAGE_DATABASE_URL": database_url,
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": "xoxb-faults",
            "AIUSAGE_AWARD_CHANNELS": ",".join(CHANNELS),
            "AIUSAGE_ADMINS": "UADMIN",
        },
        tmp_path,
    )
    yield runner
    runner.stop_all()


def copies(fake: FakeSlack, channel: str, key: str) -> int:
    """How many messages in `channel` carry `key`: exactly-once means 1."""
    return sum(
        1
        for m in list(fake.messages[channel])
        if ((m.get("metadata") or {}).get("event_payload") or {}).get("post_key") == key
    )


def everywhere_once(fake: FakeSlack, db, key: str) -> bool:
    counts = {c: copies(fake, c, key) for c in CHANNELS}
    assert max(counts.values()) <= 1, f"{key} doubled: {counts}"
    return set(counts.values()) == {1} and all(p.post_key != key for p in pending_posts(db))


class Gate:
    """Holds the first `chat.postMessage` to a channel in the fake until released; the held
    call is then dropped unanswered and undone, as when its client died mid-post."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, params: dict[str, Any]) -> bool:
        if self.entered.is_set() or params.get("channel") != self.channel:
            return True
        self.entered.set()
        self.release.wait(30)
        return False


@pytest.mark.postgres
def test_every_post_reaches_every_channel_once_through_kills_and_slack_faults(db, fake, procs):
    now = datetime.now(UTC)
    week = last_complete_week(now, UTC)
    seed_award_week(db, week, now)
    awards_key, retire_key = f"awards:{week.label}", "retire:1"

    # Slack's faults, one channel each; the history call fails too, once each way.
    fake.fail("chat.postMessage", channel="CTIMEOUT", apply=True, stall=1.0, error="late")
    fake.fail("chat.postMessage", channel="C5XX", status=500)
    fake.fail("chat.postMessage", channel="C5XX", status=503, apply=True)
    fake.fail("chat.postMessage", channel="C429", status=429, retry_after=1, times=2)
    fake.fail("chat.postMessage", channel="CFAILED", error="internal_error", apply=True)
    fake.fail("chat.postMessage", channel="CDROP", drop_connection=True, apply=True)
    fake.fail("conversations.history", status=500)
    fake.fail("conversations.history", status=429, retry_after=1)

    # 1. `awards post` is killed while Slack holds its first post (not made).
    gate = Gate("CKILL")
    fake.before("chat.postMessage", gate)
    poster = procs.start("awards", "post", "--week", week.label)
    wait_until("the poster to reach Slack", gate.entered.is_set)
    procs.kill(poster)
    gate.release.set()
    [left] = post_claims(db, awards_key)
    assert (left.channel, left.status) == ("CKILL", "claimed")

    # 2. `serve` starts: the catch-up and the re-drive finish the post, through every fault.
    server, _ = procs.serve()
    wait_until("the award post everywhere", lambda: everywhere_once(fake, db, awards_key), 40)

    # 3. `admin retire` is killed mid-announcement; serve is killed after Slack made its
    # re-driven post but before it heard back; a restarted serve finds it, posts the rest.
    gate = Gate("CKILL")  # its first channel; serve cannot post there while it holds the claim
    fake.before("chat.postMessage", gate)
    retire = procs.start(
        "admin", "retire", "--announcement", "So long <!channel>", "--by", "UADMIN"
    )
    wait_until("the retire command to reach Slack", gate.entered.is_set)
    procs.kill(retire)
    victim = {"serve": server}

    def kill_serve_after_post(params: dict[str, Any]) -> None:
        if params.get("channel") == "CKILL" and victim["serve"] is not None:
            procs.kill(victim["serve"])
            victim["serve"] = None

    fake.after("chat.postMessage", kill_serve_after_post)
    gate.release.set()
    wait_until("serve to be killed mid-post", lambda: victim["serve"] is None)
    fake.after("chat.postMessage", lambda _params: None)
    server, _ = procs.serve()
    wait_until("the announcement everywhere", lambda: everywhere_once(fake, db, retire_key), 40)
    # Every claim is final ("posted" is never taken over), so nothing more can turn up.
    for key in (awards_key, retire_key):
        assert [c.status for c in post_claims(db, key)] == ["posted"] * len(CHANNELS)
    assert all(copies(fake, c, awards_key) == 1 for c in CHANNELS)
    assert all(copies(fake, c, retire_key) == 1 for c in CHANNELS)
    assert all(len(fake.messages[c]) == 2 for c in CHANNELS)

    code, status = procs.run("admin", "status")
    assert code == 0, status
    assert f"  {awards_key} done " in status and f"  {retire_key} done " in status
    assert all(f"    {c}: posted " in status for c in CHANNELS)
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) in (0, -signal.SIGTERM)


def batch_of(number: int, rng: random.Random) -> dict[str, Any]:
    day = datetime(2026, 11, 16, 8, tzinfo=UTC) + timedelta(days=number % 5)
    return {
        "events": [
            {
                "event_id": f"b{number}-{i}",
                "user": {"slack_user_id": f"U{rng.randrange(20):03d}"},
                "occurred_at": (day + timedelta(seconds=i)).isoformat(),
                "kind": "agent",
                "input_tokens": rng.randrange(1_000_000),
                "output_tokens": rng.randrange(1_000),
            }
            for i in range(1000)
        ]
    }


@pytest.mark.postgres
def test_no_acknowledged_event_is_lost_or_counted_twice_when_serve_is_killed_mid_batch(db, procs):
    _, key = create_integration(db, "faults", datetime.now(UTC))
    rng = random.Random(10)
    batches = [batch_of(n, rng) for n in range(6)]
    acknowledged: dict[int, dict[str, Any]] = {}
    cut_short = 0

    def send(base: str, number: int, into: dict[int, Any]) -> None:
        try:
            answer = httpx.post(
                f"{base}/api/v1/events", json=batches[number], headers=bearer(key), timeout=30
            )
        except httpx.TransportError:
            return  # no answer: not acknowledged, so the client sends it again
        assert answer.status_code == 200, answer.text
        into[number] = answer.json()

    server, base = procs.serve()
    latency = 0.0
    for number in range(len(batches)):
        if number % 2 == 0:
            started = time.monotonic()
            send(base, number, acknowledged)
            latency = time.monotonic() - started
            continue
        # Kill serve while this batch is (most likely) being written: part way through the
        # time a whole batch took.
        sender = threading.Thread(target=send, args=(base, number, acknowledged))
        sender.start()
        pause = latency * rng.uniform(0.1, 0.5)
        time.sleep(pause)
        procs.kill(server)
        sender.join(30)
        cut_short += number not in acknowledged
        server, base = procs.serve()
    assert cut_short >= 1, "the kills should land mid-batch"
    for number in range(len(batches)):  # the client resends what was not acknowledged...
        if number not in acknowledged:
            send(base, number, acknowledged)
    again: dict[int, Any] = {}
    send(base, 0, again)  # ...and, at least once, something that was
    assert again[0] == {"accepted": 0, "duplicates": 1000, "rejected": []}
    server.send_signal(signal.SIGTERM)
    assert server.wait(30) in (0, -signal.SIGTERM)

    assert sum(a["accepted"] + a["duplicates"] for a in acknowledged.values()) == 6000
    everything = [e for b in batches for e in b["events"]]
    with db.read() as conn:
        stored = set(conn.scalars(select(EventRow.event_id)))
        stored_tokens = conn.scalar(select(func.sum(EventRow.input_tokens)))
        rolled = conn.execute(
            select(func.sum(DailyRow.events), func.sum(DailyRow.input_tokens))
        ).one()
    assert stored == {e["event_id"] for e in everything}
    expected_tokens = sum(e["input_tokens"] for e in everything)
    assert stored_tokens == expected_tokens
    assert tuple(rolled) == (6000, expected_tokens)

"""A live holder keeps the lease on the reply it owes for as long as it works on it: Slack
rate-limiting the reply past the lease while the re-drive runs (in its own `serve` and, on
PostgreSQL, in another on the same database; or in two replicas re-driving) still gives one
reply; a reply forgotten while Slack makes its holder wait is not sent after the wait. The
dead holder's side is test_owed_reply_kill.py."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from freezegun import freeze_time
from starlette.testclient import TestClient

from bot.composition import build_services, create_http_app
from bot.settings import Settings, load_settings
from bot.slack.owed_replies import OwedReplies
from storage.db import Database
from storage.owed_replies import owe_reply, owed_replies
from tests.fault_helpers import Aiusage, replies_to, wait_until
from tests.slack_command_helpers import text_of
from tests.slack_fixtures import SlackDriver, redriving_replicas
from tests.slack_requests import SIGNING_SECRET, signed_headers, slash_command

# A lease of 15 x 0.3 s = 4.5 s, renewed every 1.1 s; three 429s of `Retry-After: 2` hold
# the reply 6 to 9 s (the retry handler adds up to a second to each wait).
TIMEOUT_S = "0.3"
LEASE_S = 4.5
RATE_LIMITED = 3


@pytest.fixture
def slack_settings(slack_settings: Settings, monkeypatch) -> Settings:
    monkeypatch.setenv("AIUSAGE_SLACK_TIMEOUT_SECONDS", TIMEOUT_S)
    return load_settings()


@pytest.fixture
def slack(
    slack_settings: Settings, db: Database, now: datetime, fake_slack
) -> Iterator[SlackDriver]:
    with freeze_time(now, tick=True) as freezer:
        services = build_services(slack_settings)
        services.db = db
        with TestClient(create_http_app(services, owed=OwedReplies(services))) as http:
            yield SlackDriver(http, fake_slack, services, freezer)


@pytest.mark.postgres
def test_a_holder_rate_limited_past_its_lease_replies_once_beside_another_serve(
    database_url, db, fake_slack, tmp_path
):
    procs = Aiusage(
        {
            "AIUSAGE_DATABASE_URL": database_url,
            "SLACK_API_URL": fake_slack.api_url,
            "SLACK_BOT_TOKEN": "xoxb-owed-lease",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "AIUSAGE_TIMEZONE": "UTC",
            "AIUSAGE_SLACK_TIMEOUT_SECONDS": TIMEOUT_S,
        },
        tmp_path,
    )
    try:
        _holder, base = procs.serve()
        if not database_url.startswith("sqlite"):  # SQLite takes one serving process
            procs.serve()  # another replica; both re-drive every 0.3 s, as the holder does
        fake_slack.fail("response_url", status=429, retry_after=2, times=RATE_LIMITED)
        body = slash_command("me", user_id="UBOB", response_url=fake_slack.response_url("slow"))
        started = time.monotonic()
        ack = httpx.post(
            f"{base}/slack/events", content=body.encode(), headers=signed_headers(body)
        )
        assert (ack.status_code, ack.content) == (200, b"")  # answered later, through the URL
        [sent] = wait_until(
            "the reply past the 429s", lambda: replies_to(fake_slack, "slow")[RATE_LIMITED:], 30
        )
        assert time.monotonic() - started > LEASE_S  # the holder worked past one lease
        assert text_of(sent).startswith("Your AI usage, week "), text_of(sent)
        wait_until("the owed reply's row to go", lambda: owed_replies(db) == [], 10)
        time.sleep(1.5)  # five more re-drive passes in each replica: none answers again
        assert len(replies_to(fake_slack, "slow")) == RATE_LIMITED + 1
        outputs = "".join(procs.output(n) for n in range(1, procs.count + 1))
        assert "answering UBOB's command again" not in outputs
    finally:
        procs.stop_all()


def test_a_redriving_replica_rate_limited_past_its_lease_keeps_the_reply(
    slack_settings, db, fake_slack
):
    born = datetime.now().astimezone() - timedelta(minutes=2)
    owe_reply(
        db,
        slack_user_id="UALICE",
        text="help",
        response_url=fake_slack.response_url("redriven"),
        team=("T0001", None),
        holder="gone:1:abcdef",
        now=born,
        lease_until=born + timedelta(seconds=1),
    )
    with redriving_replicas(slack_settings, "slow", "other") as replicas:
        slow, other = replicas
        fake_slack.fail("response_url", status=429, retry_after=2, times=RATE_LIMITED)
        done = threading.Event()
        answered: list[int] = []

        def redrive_slowly() -> None:
            answered.append(slow.redrive())
            done.set()

        first = threading.Thread(target=redrive_slowly)
        started = time.monotonic()
        first.start()
        fake_slack.wait_for("response_url")  # the slow replica holds it now
        while not done.wait(0.3):  # the other re-drives all along, as its schedule would
            answered.append(other.redrive())
        first.join(10)
        assert time.monotonic() - started > LEASE_S
        assert sum(answered) == 1
        assert len(replies_to(fake_slack, "redriven")) == RATE_LIMITED + 1
        assert owed_replies(db) == []


def test_a_reply_forgotten_while_slack_makes_its_holder_wait_is_not_sent(slack, db, run, caplog):
    slack.fake.fail("response_url", status=429, retry_after=3)  # a wait of 3 to 4 s
    with caplog.at_level(logging.INFO):
        assert slack.command("me", user_id="UBOB", response_url="forgotten").content == b""
        slack.fake.wait_for("response_url")
        code, out, _err = run("people", "forget", "UBOB")
        assert code == 0 and "owed_replies=1" in out, out
        wait_until(
            "the holder to end its wait",
            lambda: len(slack.responses("forgotten")) > 1 or "is not sent" in caplog.text,
            10,
        )
    time.sleep(0.3)
    assert len(slack.responses("forgotten")) == 1  # the 429 alone
    assert "the reply to UBOB's command is not sent: it was forgotten" in caplog.text
    assert owed_replies(db) == []

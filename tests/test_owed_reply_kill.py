"""A reply owed after the ack, through a SIGKILL: `serve` acknowledged a never-seen caller's
`/aiusage me` with nothing and was killed while asking Slack who they are; the `serve`
started after it answers them, once, at the command's own response_url."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from bot.demo.fake_slack import FakeSlack
from storage.owed_replies import owed_replies
from tests.fault_helpers import replies_to, slack_serving, wait_until
from tests.slack_command_helpers import text_of
from tests.slack_requests import signed_headers, slash_command


@pytest.fixture
def fake():
    server = FakeSlack()
    server.add_user("UNEW", name="newcomer", tz="Europe/Berlin")
    yield server.start()
    server.stop()


@pytest.fixture
def procs(database_url, fake, tmp_path):
    runner = slack_serving(database_url, fake.api_url, tmp_path, "xoxb-owed-kill")
    yield runner
    runner.stop_all()


@pytest.mark.postgres
def test_a_reply_owed_when_serve_was_killed_is_sent_once_by_the_next_serve(db, fake, procs):
    serve, base = procs.serve()
    killed: list[bool] = []

    def kill_serve_while_slack_holds_users_info(_params: dict[str, Any]) -> bool:
        procs.kill(serve)
        killed.append(True)
        return False  # never answered: the process that asked is gone

    fake.before("users.info", kill_serve_while_slack_holds_users_info)
    body = slash_command("me", user_id="UNEW", response_url=fake.response_url("owed"))
    ack = httpx.post(f"{base}/slack/events", content=body.encode(), headers=signed_headers(body))
    assert (ack.status_code, ack.content) == (200, b"")  # answered later, through the URL
    wait_until("serve to be killed while users.info is held", lambda: killed, 30)
    assert replies_to(fake, "owed") == []
    [owed] = owed_replies(db)
    assert (owed.slack_user_id, owed.text) == ("UNEW", "me")

    fake.before("users.info", lambda _params: True)
    procs.serve()
    [answer] = wait_until("the owed reply", lambda: replies_to(fake, "owed"), 60)
    assert answer["response_type"] == "ephemeral"
    assert text_of(answer).startswith("Your AI usage, week "), text_of(answer)
    wait_until("the owed reply's row to go", lambda: owed_replies(db) == [], 10)
    time.sleep(1.5)  # five more re-drive passes (every 0.3 s here): none sends it again
    assert len(replies_to(fake, "owed")) == 1
    assert "answering UNEW's command again" in procs.output(procs.count)

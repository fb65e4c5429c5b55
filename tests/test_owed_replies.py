"""Replies owed after an empty ack, in one process: the row written before the ack and gone
once the reply went, the re-drive as `serve` schedules it (rows whose holder stopped are
answered once, rows past Slack's 30 minutes dropped unsent), a holder stalled past its lease
sending nothing once the re-drive answered, a forget taking the rows with it, two replicas
re-driving at once, and text that means something to Slack kept as typed.
The SIGKILL itself is in test_owed_reply_kill.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.composition import build_scheduler, build_services, create_http_app
from bot.settings import Settings
from bot.slack.owed_replies import OwedReplies
from storage.db import Database
from storage.owed_replies import (
    ANSWERED,
    abandoned_replies,
    claim_reply,
    mark_answered,
    owe_reply,
    owed_replies,
)
from storage.post_models import OwedReplyRow
from tests.fault_helpers import wait_until
from tests.slack_command_helpers import text_of
from tests.slack_fixtures import SlackDriver, redriving_replicas

HOSTILE = "<!channel> *bold* <https://evil.example/|click here> & <@UBOB> `code`"


@pytest.fixture
def app(
    slack_settings: Settings, db: Database, now: datetime, fake_slack
) -> Iterator[tuple[SlackDriver, Callable[[], object]]]:
    """The real app, and the owed replies' re-drive job as `serve` schedules it."""
    with freeze_time(now, tick=True) as freezer:
        services = build_services(slack_settings)
        services.db = db
        owed = OwedReplies(services)
        jobs = {name: run for name, _, run in build_scheduler(services, owed).planned()}
        with TestClient(create_http_app(services, owed=owed)) as http:
            yield SlackDriver(http, fake_slack, services, freezer), jobs["redrive-replies"]


def hold_users_info(fake) -> threading.Event:
    """users.info waits until the returned event is set."""
    release = threading.Event()
    fake.before("users.info", lambda _params: release.wait(30) or True)
    return release


def abandoned(db: Database, fake, user: str, text: str, name: str, born: datetime) -> int:
    """A reply owed by a process that stopped: its lease long over."""
    return owe_reply(
        db,
        slack_user_id=user,
        text=text,
        response_url=fake.response_url(name),
        team=("T0001", None),
        holder="gone:1:abcdef",
        now=born,
        lease_until=born + timedelta(seconds=1),
    )


def test_the_reply_is_owed_from_before_the_ack_until_it_is_sent(app, db):
    slack, _redrive = app
    release = hold_users_info(slack.fake)
    ack = slack.command("me", user_id="UBOB", response_url="later")
    assert (ack.status_code, ack.content) == (200, b"")
    [owed] = owed_replies(db)  # already there when Slack got the ack
    assert (owed.slack_user_id, owed.text, owed.team) == ("UBOB", "me", ("T0001", None))
    release.set()
    wait_until("the reply", lambda: slack.responses("later"))
    wait_until("the row to go", lambda: owed_replies(db) == [], 10)


def test_a_command_answered_in_the_ack_writes_nothing(app, db):
    slack, _redrive = app
    slack.ask("me", user_id="UBOB")  # first: after the ack, Slack asked who Bob is
    wait_until("the row to go", lambda: owed_replies(db) == [], 10)
    response = slack.command("me", user_id="UBOB", response_url="known")
    assert response.json()["response_type"] == "ephemeral"  # in the ack
    assert owed_replies(db) == []


@pytest.mark.parametrize("text", ["optout", "optin", "digest on", "restore", "restore back"])
def test_commands_that_change_a_setting_are_not_owed(app, db, text):
    slack, _redrive = app
    release = hold_users_info(slack.fake)
    assert slack.command(text, user_id="UBOB", response_url="setting").content == b""
    assert owed_replies(db) == []
    release.set()
    wait_until("the reply", lambda: slack.responses("setting"))


def test_the_redrive_answers_a_stopped_holders_reply_once_and_drops_one_past_30_minutes(
    app, db, now, caplog
):
    slack, redrive = app
    abandoned(db, slack.fake, "UALICE", "me", "fresh", now - timedelta(minutes=29))
    abandoned(db, slack.fake, "UBOB", "me", "stale", now - timedelta(minutes=31))
    with caplog.at_level(logging.INFO):
        redrive()
    [answer] = slack.responses("fresh")
    assert text_of(answer).startswith("Your AI usage, week "), text_of(answer)
    assert slack.responses("stale") == []
    assert owed_replies(db) == []
    [dropped] = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped == (
        "dropped 1 owed reply older than 30 minutes, unsent: Slack no longer takes them"
    )
    assert slack.fake.response_url("") not in caplog.text  # a capability: never logged
    slack.move_to(now + timedelta(minutes=2))
    redrive()
    assert len(slack.responses("fresh")) == 1


def test_the_redrive_claims_each_reply_as_it_comes_to_it_not_all_at_once(app, db, now):
    # Alice's reply takes Slack five minutes; meanwhile another replica's re-drive finds
    # Carol's reply abandoned and answers it. Claimed together with Alice's, its lease
    # would have run out by then and both replicas would have answered Carol.
    slack, redrive = app
    abandoned(db, slack.fake, "UALICE", "me", "first", now - timedelta(minutes=3))
    carol = abandoned(db, slack.fake, "UCAROL", "me", "second", now - timedelta(minutes=3))
    later = now + timedelta(minutes=5)
    taken: list[Any] = []

    def slow_slack(_params: dict[str, Any]) -> bool:
        if not taken:
            slack.move_to(later)
            taken.append(claim_reply(db, carol, "other", later, later + timedelta(minutes=2)))
        return True

    slack.fake.before("users.info", slow_slack)
    redrive()
    assert len(slack.responses("first")) == 1
    assert taken[0] is not None  # the other replica holds Carol's reply now
    assert slack.responses("second") == []  # ...and this one left it to it
    [left] = owed_replies(db)
    assert (left.id, left.holder) == (carol, "other")


def test_the_redrive_leaves_a_reply_whose_holder_is_alive(app, db, now):
    slack, redrive = app
    release = hold_users_info(slack.fake)
    slack.command("me", user_id="UBOB", response_url="alive")
    redrive()  # within the worker's lease
    assert slack.responses("alive") == []
    release.set()
    assert len(wait_until("the reply", lambda: slack.responses("alive"))) == 1
    wait_until("the row to go", lambda: owed_replies(db) == [], 10)


def test_a_holder_stalled_past_its_lease_sends_nothing_once_the_redrive_answered(
    app, db, now, caplog
):
    """The worker stops between taking its row and replying for longer than its lease (a
    SIGSTOP, a long pause: its heartbeat, every quarter lease, does not beat meanwhile); the
    re-drive answers the row; the worker, going on, checks the row is still its own right
    before it sends, and sends nothing. Its Slack call is held here, the clock moved past
    the lease while it is, as a frozen process finds the world when it is thawed."""
    slack, redrive = app
    asked, release = threading.Event(), threading.Event()

    def hold_the_workers_call(_params: dict[str, Any]) -> bool:
        if not asked.is_set():  # the worker's; the re-drive's own goes through
            asked.set()
            release.wait(30)
        return True

    slack.fake.before("users.info", hold_the_workers_call)
    with caplog.at_level(logging.INFO):
        assert slack.command("me", user_id="UBOB", response_url="frozen").content == b""
        assert asked.wait(10)
        [held] = owed_replies(db)
        slack.move_to(held.lease_until + timedelta(seconds=1))
        redrive()
        [answer] = slack.responses("frozen")
        assert text_of(answer).startswith("Your AI usage, week "), text_of(answer)
        release.set()  # the stalled worker goes on
        wait_until(
            "the stalled worker to end",
            lambda: len(slack.responses("frozen")) > 1 or "is not sent" in caplog.text,
            10,
        )
    assert len(slack.responses("frozen")) == 1
    assert "the reply to UBOB's command is not sent" in caplog.text
    assert owed_replies(db) == []


def test_a_holder_thawed_while_the_redrive_of_its_own_process_answers_sends_nothing(
    app, db, now, caplog
):
    """As above, but the worker goes on while the re-drive (of the same process, its lease
    over since its heartbeat could not renew) is still answering: the row is the re-drive's
    by a name of its own, so the worker's check finds it another's and withdraws."""
    slack, redrive = app
    calls: list[threading.Event] = []

    def hold_each_call(_params: dict[str, Any]) -> bool:
        release = threading.Event()
        calls.append(release)
        release.wait(30)
        return True

    slack.fake.before("users.info", hold_each_call)
    with caplog.at_level(logging.INFO):
        assert slack.command("me", user_id="UBOB", response_url="both").content == b""
        wait_until("the worker's users.info", lambda: len(calls) == 1)
        [held] = owed_replies(db)
        slack.move_to(held.lease_until + timedelta(seconds=1))
        redriving = threading.Thread(target=redrive)
        redriving.start()
        wait_until("the re-drive's users.info", lambda: len(calls) == 2)
        calls[0].set()  # the worker goes on first
        wait_until("the worker to withdraw", lambda: "is not sent" in caplog.text, 10)
        calls[1].set()
        redriving.join(10)
    assert len(slack.responses("both")) == 1
    assert owed_replies(db) == []


def test_an_answered_row_is_kept_emptied_until_slacks_30_minutes_are_over(app, db, now, caplog):
    """The re-drive keeps the row it answered as the fence a stalled holder meets, without
    the command's text or URL; past Slack's 30 minutes it goes, not counted as unsent."""
    slack, redrive = app
    abandoned(db, slack.fake, "UALICE", "mydata", "fenced", now - timedelta(minutes=2))
    redrive()
    assert len(slack.responses("fenced")) == 1
    with db.read() as conn:
        [kept] = conn.execute(select(OwedReplyRow)).all()
    assert (kept.holder, kept.text, kept.response_url) == (ANSWERED, "", "")
    slack.move_to(now + timedelta(minutes=29))
    with caplog.at_level(logging.INFO):
        redrive()
    assert len(slack.responses("fenced")) == 1
    assert "dropped" not in caplog.text
    with db.read() as conn:
        assert conn.execute(select(OwedReplyRow)).all() == []


def test_people_forget_deletes_the_replies_owed_to_them(app, db, now, run):
    slack, redrive = app
    abandoned(db, slack.fake, "UALICE", "mydata", "alice", now - timedelta(minutes=2))
    abandoned(db, slack.fake, "UBOB", "me", "bob", now - timedelta(minutes=2))
    code, out, _err = run("people", "forget", "UALICE")
    assert code == 0 and "owed_replies=1" in out, out
    assert [owed.slack_user_id for owed in owed_replies(db)] == ["UBOB"]
    redrive()
    assert slack.responses("alice") == []
    assert len(slack.responses("bob")) == 1


def test_a_confirmed_forget_deletes_the_replies_owed_to_them(app, db, now):
    slack, _redrive = app
    slack.ask("me")  # Alice is known
    abandoned(db, slack.fake, "UALICE", "me", "alice", now - timedelta(minutes=2))
    assert slack.click("aiusage_forget_confirm", "self").status_code == 200
    wait_until("the forget's answer", lambda: slack.responses("click"))
    assert owed_replies(db) == []


def test_text_that_means_something_to_slack_is_kept_as_typed_and_shown_escaped(app, db, now):
    slack, redrive = app
    release = hold_users_info(slack.fake)
    slack.command(HOSTILE, user_id="UBOB", response_url="normal")
    [owed] = owed_replies(db)
    assert owed.text == HOSTILE
    release.set()
    [normal] = wait_until("the reply", lambda: slack.responses("normal"))
    wait_until("the row to go", lambda: owed_replies(db) == [], 10)
    abandoned(db, slack.fake, "UBOB", HOSTILE, "again", now - timedelta(minutes=2))
    redrive()
    [again] = slack.responses("again")
    assert again == normal
    shown = text_of(again)
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown


def test_two_replicas_redriving_at_once_reply_once(slack_settings, db, now, fake_slack):
    born = datetime.now(now.tzinfo) - timedelta(minutes=2)
    for n in range(5):
        abandoned(db, fake_slack, "UALICE", "help", f"r{n}", born)
    start = threading.Barrier(2)

    def redrive(owed: OwedReplies) -> int:
        start.wait()
        return owed.redrive()

    with (
        redriving_replicas(slack_settings, "one", "two") as replicas,
        ThreadPoolExecutor(2) as pool,
    ):
        answered = list(pool.map(redrive, replicas))
    assert sum(answered) == 5
    posts: dict[str, int] = {}
    for call in fake_slack.calls_to("response_url"):
        posts[call.path] = posts.get(call.path, 0) + 1
    assert posts == {f"/response/r{n}": 1 for n in range(5)}
    assert owed_replies(db) == []


def test_a_row_is_claimed_by_one_of_two_connections(db, settings, now):
    owed_id = owe_reply(
        db,
        slack_user_id="UALICE",
        text="me",
        response_url="http://127.0.0.1:9/response/x",
        team=(None, None),
        holder="gone",
        now=now - timedelta(minutes=3),
        lease_until=now - timedelta(minutes=1),
    )
    other = Database(settings.database_url, settings.timezone)
    start = threading.Barrier(2)

    def claim(args: tuple[Database, str]) -> list[Any]:
        handle, holder = args
        start.wait()
        taken = [
            claim_reply(handle, owed_id, holder, now, now + timedelta(minutes=2))
            for owed_id in abandoned_replies(handle, now, now - timedelta(minutes=30))
        ]
        return [row for row in taken if row is not None]

    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(claim, [(db, "a"), (other, "b")]))
    finally:
        other.dispose()
    assert sorted(len(r) for r in results) == [0, 1]
    [[taken]] = [r for r in results if r]
    [stored] = owed_replies(db)
    assert (taken.id, stored.holder) == (owed_id, taken.holder)


def test_db_prune_drops_owed_replies_past_30_minutes(db, run):
    now = datetime.now(UTC)  # the command's own clock
    for minutes, name in ((31, "dead"), (29, "alive")):
        owe_reply(
            db,
            slack_user_id="UALICE",
            text="me",
            response_url=f"http://127.0.0.1:9/response/{name}",
            team=(None, None),
            holder="gone",
            now=now - timedelta(minutes=minutes),
            lease_until=now - timedelta(minutes=minutes - 1),
        )
    code, out, _err = run("db", "prune")
    assert code == 0
    assert "deleted 1 replies owed to slash commands, past Slack's 30 minutes" in out, out
    assert [o.response_url.rsplit("/", 1)[1] for o in owed_replies(db)] == ["alive"]


def test_db_prune_counts_only_the_replies_that_were_never_answered(db, run):
    """A row the re-drive answered stays as a fence until 30 minutes are past: prune deletes
    it with the rest, but it was no reply owed, and said so it made the count of unanswered
    replies look larger."""
    now = datetime.now(UTC)  # the command's own clock
    born = now - timedelta(minutes=31)
    ids = {}
    for name in ("answered", "unanswered"):
        ids[name] = owe_reply(
            db,
            slack_user_id="UALICE",
            text="me",
            response_url=f"http://127.0.0.1:9/response/{name}",
            team=(None, None),
            holder=f"redrive-{name}",
            now=born,
            lease_until=born + timedelta(minutes=1),
        )
    mark_answered(db, ids["answered"], "redrive-answered")
    code, out, _err = run("db", "prune")
    assert code == 0
    assert "deleted 1 replies owed to slash commands, past Slack's 30 minutes" in out, out
    assert owed_replies(db) == []

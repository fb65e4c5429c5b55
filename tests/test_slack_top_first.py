"""The first `/aiusage top` of a week, or after a start, end to end: the week's ranking is not
ready, so the command is acknowledged empty at once and answered through its `response_url`
once everyone's week is summed (seconds at scale: Slack gives the ack three); every `top`
after it is answered in its ack from the cached ranking, and a new week starts over. `serve`
warming the ranking at start, and a kill between the ack and the reply, are in
test_slack_top_warm_up.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg
import pytest

from storage.owed_replies import owed_replies
from tests.award_posting.helpers import retire
from tests.fault_helpers import wait_until
from tests.pg_stalls import stalled_reads
from tests.slack_command_helpers import THIS_MONDAY, ingest, text_of, worked

SLACK_ACK_DEADLINE = 3.0
# The ranking's one grouped pass over everyone's week (storage.usage_queries.rank_inputs).
EVERYONES_WEEK = "%GROUP BY usage_daily.identity_id%"
# Longer than Slack waits for an ack: a first `top` answered in it would be Slack's error.
SLOW_SUM_S = 4.0


def known(slack, *users: str) -> None:
    """Slack has told us who `users` are: their commands are answered in the ack if they can."""
    for user in users:
        slack.ask("help", user_id=user)


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def ranked(slack) -> str:
    return slack.http.get("/metrics").text


def test_the_first_top_is_answered_after_its_ack_and_the_next_in_it(slack, api_key, db):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY), worked("UBOB", THIS_MONDAY, hour="11"))
    known(slack, "UALICE")
    first = slack.command("top", response_url="first")
    assert (first.status_code, first.content) == (200, b"")  # no ranking yet: after the ack
    [answer] = wait_until("the first top's reply", lambda: slack.responses("first"))
    assert answer["response_type"] == "ephemeral"
    text = text_of(answer)
    assert "1. <@UALICE>" in text and "1. <@UBOB>" in text, text
    assert "*Your place:* 1 of 2." in text
    wait_until("the owed reply's row to go", lambda: owed_replies(db) == [], 10)

    second = slack.command("top", user_id="UALICE", response_url="second")
    assert text_of(second.json()) == text  # in its ack, from the same ranking
    time.sleep(0.3)  # a reply after the ack would have been posted by now
    assert len(slack.responses("first")) == 1 and slack.responses("second") == []
    assert owed_replies(db) == []
    assert "aiusage_ranking_seconds_count 1.0" in ranked(slack)


def test_tops_while_the_first_ranking_is_slow_are_acked_at_once_and_answered_once(
    slack, api_key, database_url
):
    """Everyone's week taking longer to sum than Slack waits for an ack (a busy week at scale;
    here the database sleeps in the sum): the first `top` and one arriving meanwhile are each
    acknowledged at once, answered once when the sum is done, which is done once, and nobody
    waits for it inside a transaction ("idle in transaction" on PostgreSQL)."""
    if database_url.startswith("sqlite"):
        pytest.skip("the sum is held at the database's side by a PostgreSQL view")
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY), worked("UBOB", THIS_MONDAY, hour="11"))
    known(slack, "UALICE", "UBOB")
    with stalled_reads(database_url, "usage_daily", SLOW_SUM_S, when=EVERYONES_WEEK):
        started = time.monotonic()
        for user in ("UALICE", "UBOB"):
            ack, took = timed(lambda u=user: slack.command("top", user_id=u, response_url=u))
            assert (ack.status_code, ack.content) == (200, b""), ack.content
            assert took < SLACK_ACK_DEADLINE
        wait_until("the ranking's sum to be under way", lambda: summing(database_url), 10)
        assert idle_in_transaction(database_url) == 0
        assert slack.responses("UALICE") == [] == slack.responses("UBOB")
        replies = {
            user: wait_until(f"{user}'s reply", lambda u=user: slack.responses(u), 30)
            for user in ("UALICE", "UBOB")
        }
    assert time.monotonic() - started >= SLOW_SUM_S  # they did wait for the sum
    for user, answers in replies.items():
        assert len(answers) == 1, answers
        assert "1. <@UALICE>" in text_of(answers[0]) and "1. <@UBOB>" in text_of(answers[0])
        assert "*Your place:* 1 of 2." in text_of(answers[0]), user
    time.sleep(0.3)
    assert [len(slack.responses(u)) for u in ("UALICE", "UBOB")] == [1, 1]
    assert "aiusage_ranking_seconds_count 1.0" in ranked(slack)
    again, took = timed(lambda: slack.command("top", response_url="again"))
    assert "1. <@UALICE>" in text_of(again.json()) and took < SLOW_SUM_S


def test_the_first_top_of_a_new_week_is_answered_after_its_ack(slack, api_key, now):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY))
    known(slack, "UALICE")
    assert "2026-W47" in text_of(slack.ask("top"))  # the week's ranking, cached
    assert "2026-W47" in text_of(slack.command("top", response_url="cached").json())
    slack.move_to(datetime(2026, 11, 23, 0, 1, tzinfo=UTC))  # Monday: week 48 in UTC
    known(slack, "UALICE")  # asked again: what Slack said is trusted for a day
    monday = slack.command("top", response_url="monday")
    assert (monday.status_code, monday.content) == (200, b"")
    [answer] = wait_until("the new week's first top", lambda: slack.responses("monday"))
    assert "2026-W48" in text_of(answer) and "Nobody is on the board yet" in text_of(answer)
    assert "2026-W48" in text_of(slack.command("top", response_url="after").json())


def test_a_retired_leaderboard_and_a_guest_are_answered_in_the_ack_without_a_ranking(slack, db):
    """Neither needs the week's ranking, so neither waits for one, nor makes one."""
    slack.fake.add_user("UGUEST", name="guest", tz="UTC")
    slack.fake.users["UGUEST"]["is_restricted"] = True
    known(slack, "UALICE", "UGUEST")
    guest = slack.command("top", user_id="UGUEST", response_url="guest")
    assert "guests" in text_of(guest.json())
    retire(db)
    retired = slack.command("top", response_url="retired")
    assert "Leaderboard retired" in text_of(retired.json())
    assert "aiusage_ranking_seconds_count 0.0" in ranked(slack)


def summing(database_url: str) -> bool:
    """Whether the ranking's sum is running (asleep in the stalled view) on the server."""
    return bool(_activity(database_url, "state = 'active' AND query ILIKE %s", EVERYONES_WEEK))


def idle_in_transaction(database_url: str) -> int:
    return _activity(database_url, "state LIKE 'idle in transaction%%'")


def _activity(database_url: str, where: str, *params: str) -> int:
    """Sessions of the test's database, other than this one, matching `where`."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND {where}",
            params,
        ).fetchone()
    assert row is not None
    return int(row[0])

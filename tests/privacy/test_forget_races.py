"""A forget racing the usage, team imports and other forgets that name the same person, on
PostgreSQL: they wait for it or retry, and nothing of the forgotten person is stored again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, func, select

from bot.cli.main import main
from storage.awards import week_awards
from storage.digests import set_digest
from storage.models import DailyRow, EventRow, PersonRow, PersonWeekRow, WeeklyRow
from storage.weekly import fresh_weeks
from tests.builders import bearer
from tests.privacy.helpers import (
    ALICE_IDS,
    LAST_WEEK,
    a_week_of_usage,
    forget_meeting_a_batch,
    in_thread,
    paused_after,
    paused_after_tombstone_check,
    scan,
    send,
    suggestion,
    waits_on,
)
from tests.test_database_outage import PG_ADMIN_URL, blocked_by, holding_lock_on


@pytest.mark.postgres
def test_a_forget_while_usage_for_the_person_arrives_forgets_them_and_drops_that_usage(
    database_url, live_server, db, api_key, capsys
):
    """A batch stored between the forget's first deletes and its identity delete made
    PostgreSQL refuse the forget (a foreign key): nothing forgotten, exit 1."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every batch out of a forget")
    url, key = f"{live_server}/api/v1/events", bearer(api_key)
    day = date(2026, 11, 17)
    first = {"events": [suggestion({"slack_user_id": "UALICE"}, day)]}
    assert httpx.post(url, json=first, headers=key).status_code == 200  # serve caches her id
    # Of a new kind: a new daily row as well as a new event.
    more = {"events": [suggestion({"slack_user_id": "UALICE"}, day, kind="agent")]}
    code, answer = forget_meeting_a_batch(
        database_url,
        "team_members",
        "UALICE",
        lambda: httpx.post(url, json=more, headers=key, timeout=60),
    )
    assert code == 0, capsys.readouterr().err
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1  # accepted and dropped, as the contract says
    assert scan(db, ["UALICE"]) == []


@pytest.mark.postgres
def test_batches_that_meet_a_person_forgotten_meanwhile_are_all_answered_200(
    database_url, live_server, db, api_key, capsys
):
    """Several request threads failing on the vanished identity at once: only the first to
    notice the forget retried, the others answered 500."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every batch out of a forget")
    url, key = f"{live_server}/api/v1/events", bearer(api_key)
    batch = {"events": [suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 17))]}
    assert httpx.post(url, json=batch, headers=key).status_code == 200  # serve caches her id
    with holding_lock_on(database_url, "team_members") as locker:
        forgetting, code = in_thread(lambda: main(["people", "forget", "UALICE"]))
        [forget_pid] = waits_on(locker)
        # Resends of her stored batch: each waits on the forget (her event row it deleted,
        # or her identity), and all fail on her identity together once it commits.
        senders = [
            in_thread(lambda: httpx.post(url, json=batch, headers=key, timeout=60))
            for _ in range(3)
        ]
        waits_on(forget_pid, 3)
    forgetting.join(60)
    for sender, _ in senders:
        sender.join(60)
    assert code == [0], capsys.readouterr().err
    assert [answer[0].status_code for _, answer in senders] == [200] * 3
    assert scan(db, ["UALICE"]) == []


@pytest.mark.postgres
def test_a_batch_that_meets_two_forgets_one_after_the_other_is_answered_200(
    database_url, live_server, db, api_key, now, capsys
):
    """Its first attempt failed on the identity one forget deleted, and its one retry on
    the identity the other deleted: it was answered 500."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every batch out of a forget")
    url, key = f"{live_server}/api/v1/events", bearer(api_key)
    day, users = date(2026, 11, 17), ("UALICE", "UBOB")
    first = {"events": [suggestion({"slack_user_id": u}, day) for u in users]}
    assert httpx.post(url, json=first, headers=key).status_code == 200  # serve caches both
    assert main(["people", "forget", "nobody@example.com"]) == 0  # the salt, made once
    more = {"events": [suggestion({"slack_user_id": u}, day, kind="agent") for u in users]}
    for who in users:
        set_digest(db, who, True, now)
    # Each forget held with the person's rows locked, at their digest's row.
    with ExitStack() as stack:
        locks, forgets, held = {}, {}, {}
        for who in users:
            locks[who] = stack.enter_context(ExitStack())
            locker = locks[who].enter_context(holding_digest_of(database_url, who))
            forgets[who] = in_thread(lambda who=who: main(["people", "forget", who]))
            [held[who]] = waits_on(locker)
        sending, answer = in_thread(lambda: httpx.post(url, json=more, headers=key, timeout=60))
        # Let go first the forget the batch waits on, then, once it waits on it, the other.
        deadline = time.monotonic() + 30
        while not (waited := [who for who, pid in held.items() if blocked_by(pid)]):
            assert time.monotonic() < deadline, "the batch never came to wait on a forget"
            time.sleep(0.02)
        [one] = waited
        [other] = set(users) - {one}
        locks[one].close()
        forgets[one][0].join(60)
        waits_on(held[other])
    for forgetting, _ in forgets.values():
        forgetting.join(60)
    sending.join(60)
    assert [forgets[u][1] for u in users] == [[0], [0]], capsys.readouterr().err
    assert answer[0].status_code == 200, answer[0].text
    assert answer[0].json()["accepted"] == 2  # accepted and dropped, as the contract says
    assert scan(db, list(users)) == []


@pytest.mark.postgres
def test_a_team_import_naming_the_person_while_they_are_forgotten_leaves_them_out(
    database_url, live_server, db, api_key, tmp_path, capsys
):
    """The import's new team spell for her waits for the forget, then meets her deleted
    identity: imported again without her, not failed, and she is not made again."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every import out of a forget")
    batch = {"events": [suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 17))]}
    headers = bearer(api_key)
    assert httpx.post(f"{live_server}/api/v1/events", json=batch, headers=headers).is_success
    teams = tmp_path / "teams.csv"
    teams.write_text("team,member\nplatform,UALICE\nplatform,UBOB\n")
    with holding_lock_on(database_url, "digest_subscriptions") as locker:
        forgetting, code = in_thread(lambda: main(["people", "forget", "UALICE"]))
        [forget_pid] = waits_on(locker)
        importing, imported = in_thread(lambda: main(["teams", "import", str(teams)]))
        waits_on(forget_pid)
    forgetting.join(60)
    importing.join(60)
    assert (code, imported) == ([0], [0]), capsys.readouterr().err
    assert scan(db, ["UALICE"]) == []
    assert main(["teams", "list"]) == 0
    assert "platform" in capsys.readouterr().out


@pytest.mark.postgres
def test_a_team_import_naming_someone_forgotten_after_its_tombstone_check_leaves_them_out(
    database_url, db, tmp_path, capsys
):
    """The import found no tombstone for her, then her forget committed: it made her
    identity and person again, as a member of the team."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every import out of a forget")
    assert main(["people", "link", "alice@example.com", "UALICE"]) == 0
    teams = tmp_path / "teams.csv"
    teams.write_text("team,member\nplatform,UALICE\nplatform,UBOB\n")
    with paused_after_tombstone_check(Engine) as (checked, forgotten):
        importing, imported = in_thread(lambda: main(["teams", "import", str(teams)]))
        assert checked.wait(30), "the import never looked for her tombstone"
        assert main(["people", "forget", "UALICE"]) == 0, capsys.readouterr().err
        forgotten.set()
        importing.join(60)
    assert imported == [0], capsys.readouterr().err
    assert scan(db, ["UALICE", "alice@example.com"]) == []
    assert main(["teams", "list"]) == 0
    assert "platform" in capsys.readouterr().out


@pytest.mark.postgres
def test_two_award_winners_forgotten_at_once_share_one_anonymous_placeholder(
    database_url, slack, db, api_key, capsys
):
    """The first forgets of award winners each made the placeholder their badges move to;
    the second to commit failed on the first's, and forgot nothing."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps one forget out of another")
    a_week_of_usage(slack.http, api_key)
    bob = [
        suggestion({"slack_user_id": "UBOB"}, LAST_WEEK.start + timedelta(days=i))
        for i in (0, 3, 4)
    ]
    send(slack.http, api_key, *bob)
    assert main(["awards", "post"]) == 0
    assert {a.slack_user_id for a in week_awards(db, LAST_WEEK.start)} == {"UALICE", "UBOB"}
    # An earlier forget made the privacy salt, which the first of the two would otherwise
    # hold the other up on before either comes to the placeholder.
    assert main(["people", "forget", "nobody@example.com"]) == 0
    with holding_lock_on(database_url, "award_edits") as locker:
        # Alice's forget is held right after it made the placeholder.
        alice, alice_code = in_thread(lambda: main(["people", "forget", "UALICE"]))
        [alice_pid] = waits_on(locker)
        bob, bob_code = in_thread(lambda: main(["people", "forget", "UBOB"]))
        waits_on(alice_pid)
    alice.join(60)
    bob.join(60)
    assert (alice_code, bob_code) == ([0], [0]), capsys.readouterr().err
    assert [a.slack_user_id for a in week_awards(db, LAST_WEEK.start)] == [None, None]
    assert scan(db, [*ALICE_IDS, "UBOB"]) == []


@pytest.mark.postgres
def test_usage_of_someone_forgotten_between_its_tombstone_check_and_its_identity_insert_is_dropped(
    database_url, client, db, api_key, capsys
):
    """Her identity was new to this process (stored by another one), so the batch looked
    for her tombstone, found none, and a forget then committed before it looked her
    identity up: it made her identity and person again and stored her usage."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every batch out of a forget")
    assert main(["people", "link", "alice@example.com", "UALICE"]) == 0  # another process
    batch = {"events": [suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 17))]}
    with paused_after_tombstone_check(db.engine) as (checked, forgotten):
        sending, answer = in_thread(
            lambda: client.post("/api/v1/events", json=batch, headers=bearer(api_key))
        )
        assert checked.wait(30), "the batch never looked for her tombstone"
        assert main(["people", "forget", "UALICE"]) == 0, capsys.readouterr().err
        forgotten.set()
        sending.join(60)
    assert answer[0].status_code == 200, answer[0].text
    assert answer[0].json() == {"accepted": 1, "duplicates": 0, "rejected": []}  # and dropped
    assert scan(db, ["UALICE", "alice@example.com"]) == []
    with db.read() as conn:
        stored = [conn.scalar(select(func.count()).select_from(t)) for t in (EventRow, DailyRow)]
    assert stored == [0, 0]  # hers was the only usage sent


@pytest.mark.postgres
@pytest.mark.parametrize("who", ["UCAROL", "carol@example.com"])
def test_first_usage_of_someone_never_seen_arriving_while_they_are_forgotten_is_dropped(
    database_url, client, db, api_key, who, capsys
):
    """Nothing was stored about her, so the forget had no identity to delete or wait on:
    the batch made her identity while the forget was under way, found no tombstone (not yet
    committed), and her usage stayed stored after the forget."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every batch out of a forget")
    user = {"slack_user_id": who} if who.startswith("U") else {"email": who}
    batch = {"events": [suggestion(user, date(2026, 11, 17))]}
    # Held as it scrubs the audit trail: its tombstone is in, not yet committed.
    code, answer = forget_meeting_a_batch(
        database_url,
        "audit_log",
        who,
        lambda: client.post("/api/v1/events", json=batch, headers=bearer(api_key)),
    )
    assert code == 0, capsys.readouterr().err
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 1, "duplicates": 0, "rejected": []}  # and dropped
    # The identity it claimed for her, made and deleted again in its own transaction, is
    # no identity of hers to report.
    assert "events=0 daily=0 identities=0" in capsys.readouterr().out
    assert scan(db, [who]) == []
    with db.read() as conn:
        stored = [conn.scalar(select(func.count()).select_from(t)) for t in (EventRow, DailyRow)]
    assert stored == [0, 0]  # hers was the only usage sent


@pytest.mark.postgres
def test_a_forget_that_meets_the_first_usage_of_someone_never_seen_deletes_all_it_stored(
    database_url, client, db, api_key, capsys
):
    """The batch made her identity (and person) first; the forget, which knew of neither,
    waited for it and must then find them by her Slack ID, with the events, rollup and
    weekly sums stored for her before it came to delete."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every batch out of a forget")
    batch = {"events": [suggestion({"slack_user_id": "UCAROL"}, date(2026, 11, 17))]}
    # Writers to the tombstones wait (readers do not): the forget is held before its own.
    with holding_lock_on(database_url, "forgotten_identities", "EXCLUSIVE") as locker:
        with paused_after(db.engine, "INSERT INTO identities") as made:
            sending, answer = in_thread(
                lambda: client.post("/api/v1/events", json=batch, headers=bearer(api_key))
            )
            assert made.reached.wait(30), "the batch never made her identity"
            assert made.backend_pid is not None
            forgetting, code = in_thread(lambda: main(["people", "forget", "UCAROL"]))
            deadline = time.monotonic() + 30
            while not blocked_by(made.backend_pid) and not blocked_by(locker):
                assert time.monotonic() < deadline, "the forget never came to wait"
                time.sleep(0.02)
        sending.join(60)
        assert answer[0].status_code == 200, answer[0].text
        assert answer[0].json() == {"accepted": 1, "duplicates": 0, "rejected": []}
        fresh_weeks(db)  # her weekly sums, as the org view's next read makes them
        with db.read() as conn:
            carol = conn.scalar(select(PersonRow.id).where(PersonRow.slack_user_id == "UCAROL"))
            weeks = conn.scalar(select(func.count()).where(WeeklyRow.person_id == carol))
        assert weeks == 1
        waits_on(locker)
    forgetting.join(60)
    out, err = capsys.readouterr()
    assert code == [0], err
    assert "events=1 daily=1 identities=1" in out
    assert scan(db, ["UCAROL"], people=[carol]) == []
    with db.read() as conn:
        stored = [conn.scalar(select(func.count()).select_from(t)) for t in (EventRow, DailyRow)]
        # The weekly sums name their person by id alone, which the scan cannot tell.
        stored += [
            conn.scalar(select(func.count()).where(t.person_id == carol))
            for t in (WeeklyRow, PersonWeekRow)
        ]
    assert stored == [0, 0, 0, 0]


@contextmanager
def holding_digest_of(database_url: str, slack_user_id: str) -> Iterator[int]:
    """Their digest's row locked by a connection of the test's own, whose backend pid it
    yields: their forget, which deletes it, waits there with their rows locked."""
    schema = database_url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as locker:
        locker.execute(f"SET search_path = {schema}")
        with locker.transaction():
            locker.execute(
                "SELECT 1 FROM digest_subscriptions d JOIN people p ON p.id = d.person_id "
                "WHERE p.slack_user_id = %s FOR UPDATE OF d",
                (slack_user_id,),
            )
            yield locker.info.backend_pid

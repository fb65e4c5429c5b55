"""Forget, export and mydata, end to end on both databases: signed Slack requests and button
clicks into the real endpoint, the award post edited on the fake Slack over HTTP, the CLI,
and a scan of every column of every table for the forgotten person's identifiers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy import event as engine_events

from bot.cli.main import main
from bot.settings import load_settings
from jobs.weeks import Week
from storage.awards import week_awards
from storage.db import Database
from storage.event_partitions import DEFAULT_PARTITION, month_partitions
from storage.integrations import create_integration
from storage.models import DailyRow, EventRow
from storage.schema import metadata
from tests.builders import bearer, event
from tests.slack_command_helpers import text_of
from tests.test_database_outage import blocked_by, holding_lock_on

LAST_WEEK = Week(date(2026, 11, 9))  # the last complete week at `now` (Wed 2026-11-18)
# Identities built to break SQL, CSV and Slack formatting if anything handled them raw.
HOSTILE_LOGIN = "o'brien\";DROP TABLE people;--=cmd|' /C calc'!A0<@UBOB>&%_"
ALICE_IDS = ("UALICE", "alice@example.com", HOSTILE_LOGIN)


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS")
    return load_settings()


@pytest.fixture
def api_key(db, now) -> str:
    _, key = create_integration(db, "kiro", now)
    return key


def send(http, key, *events) -> dict:
    response = http.post("/api/v1/events", json={"events": list(events)}, headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == [], response.text
    return response.json()


def suggestion(user: dict, day: date, **fields) -> dict:
    fields = {
        "kind": "inline_suggestion",
        "input_tokens": 3000,
        "suggestions_shown": 20,
        "suggestions_accepted": 9,
        **fields,
    }
    return event(user=user, occurred_at=f"{day}T10:00:00Z", tool="kiro", **fields)


def a_week_of_usage(http, key) -> None:
    """Alice every weekday of last week (under her Slack ID, her email and a vendor login
    linked to her), Bob on two days; both once this week."""
    assert main(["people", "link", "alice@example.com", "UALICE"]) == 0
    assert main(["people", "link", f"otlp:{HOSTILE_LOGIN}", "UALICE"]) == 0
    users = [
        {"slack_user_id": "UALICE"},
        {"email": "Alice@Example.com"},
        {"slack_user_id": "UALICE"},
        {"email": "alice@example.com"},
        {"slack_user_id": "UALICE"},
    ]
    events = [suggestion(users[i], LAST_WEEK.start + timedelta(days=i)) for i in range(5)]
    events += [
        suggestion({"slack_user_id": "UBOB"}, LAST_WEEK.start + timedelta(days=i)) for i in (1, 2)
    ]
    # And this week, so both are on this week's leaderboard.
    events += [suggestion({"slack_user_id": u}, date(2026, 11, 17)) for u in ("UALICE", "UBOB")]
    send(http, key, *events)


def scan(
    db: Database,
    needles=ALICE_IDS,
    *,
    people: Iterable[int] = (),
    identities: Iterable[int] = (),
) -> list[str]:
    """Every value of every column of every table the ORM defines that contains one of
    `needles`, or that is (or points at) one of the given person or identity ids. Tables
    come from the metadata, and the database must hold exactly those, so a table added
    later is scanned without anyone remembering to add it here."""
    found = []
    lowered = [n.lower() for n in needles]
    ids = {"people.id": set(people), "identities.id": set(identities)}
    with db.engine.connect() as conn:
        stored = set(inspect(conn).get_table_names()) - {"alembic_version"}
        # PostgreSQL's monthly partitions of the raw events are read through their parent.
        if conn.dialect.name == "postgresql":
            stored -= set(month_partitions(conn).values()) | {DEFAULT_PARTITION}
        assert stored == set(metadata.tables), "the database and the ORM disagree"
        for tbl in metadata.sorted_tables:
            for row in conn.execute(select(tbl)):
                for col, value in zip(tbl.columns, row, strict=True):
                    text = str(value).lower()
                    found += [f"{tbl.name}.{col.name}: {value!r}" for n in lowered if n in text]
                    targets = {f"{tbl.name}.{col.name}"}
                    targets |= {fk.target_fullname for fk in col.foreign_keys}
                    if any(value in ids.get(t, ()) for t in targets):
                        found.append(f"{tbl.name}.{col.name}: {value!r} (her row)")
    return found


def clicked(slack, action: str, user_id: str = "UALICE") -> dict:
    before = len(slack.responses("click"))
    assert slack.click(action, "self", user_id=user_id).status_code == 200
    deadline = time.monotonic() + 5
    while len(slack.responses("click")) <= before:
        assert time.monotonic() < deadline, "no answer to the click"
        time.sleep(0.01)
    return slack.responses("click")[-1]


def test_forget_from_slack_removes_the_person_from_every_table_and_surface(
    slack, db, api_key, capsys
):
    a_week_of_usage(slack.http, api_key)
    assert main(["awards", "post"]) == 0
    [posted] = slack.fake.messages["CAWARDS"]
    assert "<@UALICE>" in posted["text"]
    slack.ask("me")  # her Slack profile (name, zone) is stored too
    assert scan(db)  # she is there before

    mydata = text_of(slack.ask("mydata"))
    assert "*Usage events* as tools sent them: 6," in mydata
    assert "email:alice@example.com" in mydata
    assert "&lt;@UBOB&gt;" in mydata and "<@UBOB>" not in mydata  # her login, escaped
    assert "aiusage people export UALICE" in mydata and "/aiusage forget" in mydata

    preview = slack.ask("forget")
    assert preview["response_type"] == "ephemeral"
    assert "dropped as it arrives" in text_of(preview) and "/aiusage optin" in text_of(preview)
    [actions] = [b for b in preview["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [
        "aiusage_forget_confirm",
        "aiusage_forget_cancel",
    ]
    assert scan(db), "a preview deletes nothing"
    assert "UALICE" in json.dumps(slack.ask("top", user_id="UBOB"))  # ranked, and cached

    done = clicked(slack, "aiusage_forget_confirm")
    assert done["replace_original"] is True
    assert "everything aiusage stored about you is deleted" in text_of(done)
    assert "1 award posts edited" in text_of(done)

    # The award post was rewritten through chat.update and no longer names her.
    [update] = slack.fake.calls_to("chat.update")
    assert update.params["channel"] == "CAWARDS" and update.params["ts"] == posted["ts"]
    assert "UALICE" not in json.dumps(slack.fake.messages["CAWARDS"])
    # The award history keeps an anonymous entry.
    [kept] = week_awards(db, LAST_WEEK.start)
    assert kept.slack_user_id is None and kept.category == "steady"

    assert scan(db) == []

    # Later usage for any of her identities is dropped at the door, and counted as accepted.
    later = [
        suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 17)),
        suggestion({"email": "ALICE@example.com"}, date(2026, 11, 17)),
    ]
    assert send(slack.http, api_key, *later)["accepted"] == 2
    assert scan(db) == []

    # No surface shows her: Bob's leaderboard, the report, the export.
    assert "UALICE" not in json.dumps(slack.ask("top", user_id="UBOB"))
    capsys.readouterr()
    assert main(["report", "--week", LAST_WEEK.label, "--format", "json"]) == 0
    report = capsys.readouterr().out
    assert "UBOB" in report and "alice" not in report.lower()
    assert main(["people", "export", "UALICE"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["events"] == [] and exported["person"] == {}
    assert main(["awards", "preview", "--week", LAST_WEEK.label]) == 0
    assert "UALICE" not in capsys.readouterr().out

    # The audit keeps that it happened, by whom (herself), and no data.
    assert main(["audit"]) == 0
    audit = capsys.readouterr().out
    assert "people.forget" in audit and "events=6" in audit and "UALICE" not in audit

    # Asking herself: no badge, no usage is left (this stores her Slack profile afresh).
    assert "Steady hand" not in text_of(slack.ask("badges"))
    assert "*Usage events* as tools sent them: none" in text_of(slack.ask("mydata"))

    # Opting in again lets her usage count from then on.
    slack.ask("optin")
    send(slack.http, api_key, suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 18)))
    assert "*Usage events* as tools sent them: 1," in text_of(slack.ask("mydata"))


def test_cancel_deletes_nothing(slack, db, api_key):
    a_week_of_usage(slack.http, api_key)
    slack.ask("forget")
    answer = clicked(slack, "aiusage_forget_cancel")
    assert "Nothing was deleted" in text_of(answer)
    assert "*Usage events* as tools sent them: 6," in text_of(slack.ask("mydata"))


def test_the_forget_button_only_ever_forgets_whoever_clicks_it(slack, db, api_key):
    a_week_of_usage(slack.http, api_key)
    slack.ask("forget")  # Alice's preview
    clicked(slack, "aiusage_forget_confirm", user_id="UBOB")  # Bob replays her button
    # It forgot Bob, who pressed it (Alice's login merely contains "<@UBOB>").
    assert [hit for hit in scan(db, ["UBOB"]) if "brien" not in hit] == []
    assert "*Usage events* as tools sent them: 6," in text_of(slack.ask("mydata"))


def test_operator_export_and_forget_by_hostile_identity(slack, db, api_key, capsys):
    a_week_of_usage(slack.http, api_key)
    capsys.readouterr()
    assert main(["people", "export", f"otlp:{HOSTILE_LOGIN}"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["person"]["slack_user_id"] == "UALICE"
    assert len(document["events"]) == 6 and len(document["awards"]) == 0
    assert {i["value"] for i in document["identities"]} >= {"UALICE", HOSTILE_LOGIN}

    assert main(["people", "forget", f"otlp:{HOSTILE_LOGIN}"]) == 0
    out = capsys.readouterr().out
    assert "events=6" in out and "identities=3" in out
    assert scan(db) == []
    assert scan(db, ["UBOB"]) != []  # Bob is untouched
    send(slack.http, api_key, suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 17)))
    assert scan(db) == []


def test_an_announcement_that_named_the_person_is_scrubbed_everywhere_it_is_kept(
    slack, db, api_key, monkeypatch, capsys
):
    """The retirement, the leaderboard state, the outbox and the audit all keep the text."""
    a_week_of_usage(slack.http, api_key)
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    text = "Thanks UALICE and alice@example.com for the idea"
    assert main(["admin", "retire", "--announcement", text, "--by", "UADMIN"]) == 0
    assert any("alice@example.com" in hit for hit in scan(db) if hit.startswith("outbox."))
    assert main(["people", "forget", "UALICE"]) == 0
    assert scan(db) == []


def test_forgetting_an_identity_nothing_is_stored_for_still_drops_its_later_usage(
    slack, db, api_key, capsys
):
    assert main(["people", "forget", "newcomer@example.com"]) == 0
    send(slack.http, api_key, suggestion({"email": "newcomer@example.com"}, date(2026, 11, 17)))
    assert scan(db, ["newcomer"]) == []
    assert main(["people", "forget", "copilot:"]) == 2  # no value: bad usage


def test_a_vendor_report_for_a_forgotten_login_is_dropped_at_import(settings, db, capsys):
    data = Path(__file__).parent / "data" / "copilot_users_1_day.ndjson"
    assert main(["people", "link", "copilot:octocat", "UOCTO"]) == 0
    assert main(["people", "forget", "UOCTO"]) == 0
    assert main(["import", "copilot", str(data)]) == 0
    assert scan(db, ["octocat", "UOCTO"]) == []
    # The other login in the same report is stored as usual.
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(DailyRow)) > 0


def test_operator_forget_edits_the_award_post_too_and_says_when_it_could_not(
    slack, db, api_key, capsys
):
    a_week_of_usage(slack.http, api_key)
    assert main(["awards", "post"]) == 0
    [posted] = slack.fake.messages["CAWARDS"]
    slack.fake.fail("chat.update", error="cant_update_message")
    capsys.readouterr()
    assert main(["people", "forget", "alice@example.com"]) == 1  # deleted, post not edited
    out, err = capsys.readouterr()
    assert "events=6" in out and "cant_update_message" in err
    assert "<@UALICE>" in slack.fake.messages["CAWARDS"][0]["text"]
    assert scan(db) == []
    # The badge's week is still known (anonymously), so an admin can fix the post by hand.
    [kept] = week_awards(db, LAST_WEEK.start)
    assert kept.slack_user_id is None and posted["ts"]


def test_otlp_usage_for_a_forgotten_person_is_dropped_before_any_series_state(
    client, api_key, db, now, capsys
):
    from sqlalchemy import select as select_

    from storage.models import EventRow, OtlpSeriesRow
    from storage.people import link_email
    from tests.otlp.helpers import metrics, tokens
    from tests.otlp.helpers import send as send_otlp

    link_email(db, "dev@example.com", "UDEV", now)
    assert send_otlp(client, api_key, metrics(tokens(100))).status_code == 200
    assert main(["people", "forget", "UDEV"]) == 0
    answer = send_otlp(client, api_key, metrics(tokens(250)))
    assert answer.status_code == 200
    with db.read() as conn:
        assert list(conn.scalars(select_(EventRow.id))) == []
        series = list(conn.scalars(select_(OtlpSeriesRow.last_value)))
    assert series == [100.0]  # untouched by the dropped point; retention removes it later
    assert scan(db, ["dev@example.com", "UDEV"]) == []


def in_thread(work) -> tuple[threading.Thread, list]:
    """`work()` started on a thread of its own; its result lands in the list."""
    results: list = []
    thread = threading.Thread(target=lambda: results.append(work()))
    thread.start()
    return thread, results


def waits_on(pid: int, count: int = 1) -> list[int]:
    """The backends waiting on backend `pid`'s locks, once there are `count` of them."""
    deadline = time.monotonic() + 30
    while len(found := blocked_by(pid)) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} came to wait on {pid}"
        time.sleep(0.02)
    return found


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
    with holding_lock_on(database_url, "team_members") as locker:
        forgetting, code = in_thread(lambda: main(["people", "forget", "UALICE"]))
        [forget_pid] = waits_on(locker)
        sending, answer = in_thread(lambda: httpx.post(url, json=more, headers=key, timeout=60))
        deadline = time.monotonic() + 30
        while not answer and not blocked_by(forget_pid):
            assert time.monotonic() < deadline, "the batch neither stored nor waited"
            time.sleep(0.02)
    forgetting.join(60)
    sending.join(60)
    assert code == [0], capsys.readouterr().err
    assert answer[0].status_code == 200, answer[0].text
    assert answer[0].json()["accepted"] == 1  # accepted and dropped, as the contract says
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


@contextmanager
def paused_after_tombstone_check(target) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The first statement off the main thread that looks for tombstones (on `target`, an
    engine or the Engine class) sets the first event, then waits, in its transaction, until
    the test sets the second."""
    checked, forgotten = threading.Event(), threading.Event()

    def after_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread() is threading.main_thread():
            return  # the test's own forget
        if "forgotten_identities" in statement and not checked.is_set():
            checked.set()
            assert forgotten.wait(30), "the forget did not finish"

    engine_events.listen(target, "after_cursor_execute", after_execute)
    try:
        yield checked, forgotten
    finally:
        forgotten.set()
        engine_events.remove(target, "after_cursor_execute", after_execute)


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

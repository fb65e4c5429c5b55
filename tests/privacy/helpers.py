"""Usage to send, clicks to make and the scan of every table, for the privacy tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import event as engine_events
from sqlalchemy import inspect, select

from bot.cli.main import main
from jobs.weeks import Week
from storage.db import Database
from storage.event_partitions import DEFAULT_PARTITION, month_partitions
from storage.schema import metadata
from tests.builders import bearer, event
from tests.test_database_outage import blocked_by, holding_lock_on

LAST_WEEK = Week(date(2026, 11, 9))  # the last complete week at `now` (Wed 2026-11-18)
# Identities built to break SQL, CSV and Slack formatting if anything handled them raw.
HOSTILE_LOGIN = "o'brien\";DROP TABLE people;--=cmd|' /C calc'!A0<@UBOB>&%_"
ALICE_IDS = ("UALICE", "alice@example.com", HOSTILE_LOGIN)


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


@dataclass
class Pause:
    """A thread held after one statement, in its transaction, until `go` is set."""

    reached: threading.Event = field(default_factory=threading.Event)
    go: threading.Event = field(default_factory=threading.Event)
    backend_pid: int | None = None  # the PostgreSQL backend whose transaction is held open


@contextmanager
def paused_after(target, text: str) -> Iterator[Pause]:
    """The first statement off the main thread (on `target`, an engine or the Engine class)
    that contains `text` sets `reached`, then holds its thread until the test sets `go`."""
    pause, left = Pause(), threading.Event()

    def after_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread() is threading.main_thread():
            return  # the test's own statements
        if text in statement and not pause.reached.is_set():
            if conn.dialect.name == "postgresql":
                pause.backend_pid = cursor.connection.info.backend_pid
            pause.reached.set()
            try:
                assert pause.go.wait(30), "the test never let the statement's thread go on"
            finally:
                left.set()

    engine_events.listen(target, "after_cursor_execute", after_execute)
    try:
        yield pause
    finally:
        pause.go.set()
        # Not removed under the held thread: SQLAlchemy would fail it, its listeners changed.
        if pause.reached.is_set():
            left.wait(30)
        engine_events.remove(target, "after_cursor_execute", after_execute)


@contextmanager
def paused_after_tombstone_check(target) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The first statement off the main thread that looks for tombstones (on `target`, an
    engine or the Engine class) sets the first event, then waits, in its transaction, until
    the test sets the second."""
    with paused_after(target, "forgotten_identities") as pause:
        yield pause.reached, pause.go


def forget_meeting_a_batch(
    database_url: str, held_on: str, who: str, send_batch: Any
) -> tuple[int, Any]:
    """`aiusage people forget who`, held by a lock on `held_on` while `send_batch()` runs
    beside it, until the batch is answered or waits on the forget; (exit code, answer)."""
    with holding_lock_on(database_url, held_on) as locker:
        forgetting, code = in_thread(lambda: main(["people", "forget", who]))
        [forget_pid] = waits_on(locker)
        sending, answer = in_thread(send_batch)
        deadline = time.monotonic() + 30
        while not answer and not blocked_by(forget_pid):
            assert time.monotonic() < deadline, "the batch neither stored nor waited"
            time.sleep(0.02)
    forgetting.join(60)
    sending.join(60)
    return code[0], answer[0]

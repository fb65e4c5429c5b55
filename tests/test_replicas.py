"""Several `aiusage serve` processes on one database: each job's due time runs once, migrations
wait on each other, a schema newer than the code is refused, SQLite takes one server."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from jobs.replicas import run_once_across_replicas
from jobs.schedule import REDRIVE_EPOCH, Scheduler, due_time, redrive_due
from jobs.schedule.wall_clock import award_trigger
from storage.coordination import claim_job, current_revision
from storage.db import Database
from tests.fault_helpers import wait_until
from tests.test_serve import free_port

AIUSAGE = str(Path(sys.executable).with_name("aiusage"))
STARTED = re.compile(r"job (\S+) due (\S+): started by")


def env_for(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIUSAGE_", "SLACK_"))}
    return {**env, "AIUSAGE_DATABASE_URL": database_url, "AIUSAGE_DRAIN_SECONDS": "0", **extra}


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [AIUSAGE, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"replica on {port} never became ready")


def stop(server: subprocess.Popen) -> int:
    server.terminate()
    try:
        return server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()


def stop_all(servers: list[subprocess.Popen]) -> list[int | None]:
    """Each server stopped, whatever the others did: one that would not stop in time left
    the next running, on a minutely schedule, long after the test."""
    codes: list[int | None] = []
    for server in servers:
        try:
            codes.append(stop(server))
        except subprocess.TimeoutExpired:
            codes.append(None)
    return codes


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share PostgreSQL")
    return database_url


def test_two_replicas_on_one_schema_run_each_due_time_once(pg_url, tmp_path):
    # Every minute, so a due time comes within the test; both replicas fire for it.
    env = env_for(pg_url, AIUSAGE_AWARD_SCHEDULE="* * * * *")
    ports = [free_port(), free_port()]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    # Started together on an empty schema: the migrations take turns.
    servers = [start(env, port, log) for port, log in zip(ports, logs, strict=True)]
    try:
        for port in ports:
            wait_ready(port)
        # Past the next minute boundary, until both replicas have had their say about it
        # (on a busy machine a scheduler may fire a few seconds late).
        now = datetime.now(UTC)
        boundary = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        time.sleep((boundary - now).total_seconds())
        said = f"job weekly-awards due {boundary.isoformat()}: "
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if all(said in log.read_text() for log in logs):
                break
            time.sleep(0.2)
    finally:
        codes = stop_all(servers)
    assert codes == [0, 0]
    outputs = [log.read_text() for log in logs]
    started = [m.groups() for out in outputs for m in STARTED.finditer(out)]
    awards = [due for job, due in started if job == "weekly-awards"]
    assert boundary.isoformat() in awards, outputs
    assert len(awards) == len(set(awards)), f"a due time ran twice: {awards}"
    # Both fired for the boundary's due time; the one that did not run it says so.
    stood_aside = [f"{said}run by another replica" in out for out in outputs]
    assert sorted(stood_aside) == [False, True], outputs
    assert "Traceback" not in "".join(outputs)

    database = Database(pg_url, ZoneInfo("UTC"))
    try:
        with database.read() as conn:
            rows = conn.execute(
                text("SELECT due_at, finished_at FROM job_runs WHERE job = 'weekly-awards'")
            ).all()
    finally:
        database.dispose()
    assert len(rows) == len(awards) and all(row.finished_at for row in rows)


def test_a_schema_newer_than_the_code_is_refused_with_one_line(database_url, db):
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    done = subprocess.run(
        [AIUSAGE, "serve", "--port", str(free_port())],
        env=env_for(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("aiusage: AIUSAGE_DATABASE_URL: the database schema is at ")
    assert "'9999_future'" in lines[-1] and "Traceback" not in done.stderr
    assert current_revision(db) == "9999_future"  # nothing was touched
    upgrade = subprocess.run(
        [AIUSAGE, "db", "upgrade"], env=env_for(database_url), capture_output=True, text=True
    )
    assert upgrade.returncode == 1 and upgrade.stderr.strip() == lines[-1]


def test_sqlite_refuses_a_second_serving_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.db'}"
    port = free_port()
    first = start(env_for(url), port, tmp_path / "first.log")
    try:
        wait_ready(port)
        second = subprocess.run(
            [AIUSAGE, "serve", "--port", str(free_port())],
            env=env_for(url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert second.stderr.strip().splitlines()[-1] == (
            f"aiusage: AIUSAGE_DATABASE_URL: another aiusage serve is already using "
            f"{tmp_path / 'one.db'}; SQLite takes one serving process (use PostgreSQL for several)"
        )
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    finally:
        assert stop(first) == 0
    # Once the first has stopped, another may serve.
    again = start(env_for(url), port, tmp_path / "again.log")
    try:
        wait_ready(port)
    finally:
        assert stop(again) == 0


def test_sqlite_refuses_a_second_serving_process_under_another_name_for_the_file(tmp_path):
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "one.db"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "alias.db").symlink_to(real)
    port = free_port()
    first = start(env_for(f"sqlite:///{real}"), port, tmp_path / "first.log")
    try:
        wait_ready(port)
        for name in (tmp_path / "elsewhere" / "alias.db", tmp_path / "elsewhere/../data/one.db"):
            other = free_port()
            second = start(env_for(f"sqlite:///{name}"), other, tmp_path / "second.log")
            try:
                wait_until(
                    f"serve on {name} to stop or answer",
                    lambda: second.poll() is not None or answers(other),  # noqa: B023
                    timeout=60,
                )
                assert second.poll() == 1, f"a second serve runs on {name}"
            finally:
                if second.poll() is None:
                    stop(second)
            said = (tmp_path / "second.log").read_text().strip().splitlines()[-1]
            assert said.startswith(
                f"aiusage: AIUSAGE_DATABASE_URL: another aiusage serve is already using {name}"
            )
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    finally:
        assert stop(first) == 0


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_due_time_is_claimed_once_and_a_dead_holders_claim_is_taken_over(db):
    due = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    now = due + timedelta(seconds=1)
    ran: list[str] = []
    first = run_once_across_replicas(db, lambda: now, holder="a")
    second = run_once_across_replicas(db, lambda: now, holder="b")
    first("weekly-awards", due, lambda: ran.append("a"))
    second("weekly-awards", due, lambda: ran.append("b"))
    second("weekly-awards", due + timedelta(days=7), lambda: ran.append("b"))
    assert ran == ["a", "b"]

    # A holder that died mid-run left its claim unfinished (and, on PostgreSQL, its session
    # lock went with its connection): the next replica to look takes that due time over.
    later = due + timedelta(days=14)
    with pytest.raises(RuntimeError), claim_job(db, "weekly-awards", later, "dies", now):
        raise RuntimeError("killed")
    second("weekly-awards", later, lambda: ran.append("b took over"))
    assert ran[-1] == "b took over"


def test_a_running_job_is_not_run_beside_itself(pg_url):
    database = Database(pg_url, ZoneInfo("UTC"))
    database.upgrade()
    due = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    try:
        with claim_job(database, "integrity-scan", due, "a", due) as mine:
            assert mine
            with claim_job(database, "integrity-scan", due, "b", due) as theirs:
                assert not theirs  # the lock is held: running now elsewhere
    finally:
        database.dispose()


def test_due_times_are_the_schedules_own_whoever_computes_them():
    trigger = award_trigger("*/10 * * * *", UTC)  # type: ignore[arg-type]
    at = datetime(2026, 11, 16, 9, 20, 0, 300_000, tzinfo=UTC)
    assert due_time(trigger, at, timedelta(days=1)) == datetime(2026, 11, 16, 9, 20, tzinfo=UTC)
    # Started a hair before its fire time, or minutes late: the same due time.
    early = datetime(2026, 11, 16, 9, 19, 59, 600_000, tzinfo=UTC)
    assert due_time(trigger, early, timedelta(days=1)) == datetime(2026, 11, 16, 9, 20, tzinfo=UTC)
    late = datetime(2026, 11, 16, 9, 27, tzinfo=UTC)
    assert due_time(trigger, late, timedelta(days=1)) == datetime(2026, 11, 16, 9, 20, tzinfo=UTC)
    weekly = award_trigger("0 9 * * mon", UTC)  # type: ignore[arg-type]
    sunday = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert due_time(weekly, sunday, timedelta(days=7)) == datetime(2026, 11, 16, 9, tzinfo=UTC)


MOMENT = datetime(2026, 11, 16, 9, 20, 30, tzinfo=UTC)


def test_every_scheduled_job_runs_once_when_two_schedulers_fire_together(pg_url, settings):
    # Two replicas' schedulers on one PostgreSQL schema, every job turned on: each fires
    # every job at the same moment from both, as their clocks agree on the due times.
    databases = [Database(pg_url, ZoneInfo("UTC")) for _ in range(2)]
    databases[0].upgrade()
    ran: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def work(name: str) -> Callable[[], None]:
        def run() -> None:
            with lock:
                ran[name] += 1
            time.sleep(0.2)  # long enough that the other replica fires while it runs

        return run

    names = [
        "weekly-awards",
        "integrity-scan",
        "match-emails",
        "connectors",
        "weekly-digests",
        "teams-from-usergroups",
        "retention",
        "weekly-rollup",
        "redrive-posts",
    ]
    schedulers = [
        Scheduler(
            "0 9 * * mon",
            UTC,  # type: ignore[arg-type]
            award_job=work("weekly-awards"),
            integrity_job=work("integrity-scan"),
            identity_job=work("match-emails"),
            catch_up_due=lambda: False,
            redrive_job=work("redrive-posts"),
            connector_job=work("connectors"),
            digest_job=work("weekly-digests"),
            teams_job=work("teams-from-usergroups"),
            retention_job=work("retention"),
            weekly_job=work("weekly-rollup"),
            run_once=run_once_across_replicas(
                database, lambda: datetime.now(UTC), holder=f"replica-{i}"
            ),
            # One moment for every firing: on a loaded machine the real clock crossed a
            # minute between the two replicas' firings, and the minutely job had two due
            # times, each rightly run once.
            clock=lambda: MOMENT,
        )
        for i, database in enumerate(databases)
    ]
    try:
        plans = [scheduler.planned() for scheduler in schedulers]
        assert [[name for name, _, _ in plan] for plan in plans] == [names, names]
        for jobs in zip(*plans, strict=True):
            both = [threading.Thread(target=run) for _, _, run in jobs]
            for thread in both:
                thread.start()
            for thread in both:
                thread.join()
        # And once more, later, for the same due times: nothing runs again.
        for _, _, run in plans[1][:-1]:
            run()
        with databases[0].read() as conn:
            rows = conn.execute(text("SELECT job, holder, finished_at FROM job_runs")).all()
    finally:
        for database in databases:
            database.dispose()
    assert ran == dict.fromkeys(names, 1)
    assert sorted(row.job for row in rows) == sorted(names)
    assert all(row.finished_at is not None for row in rows)


def test_the_redrive_due_times_are_the_same_on_every_replica():
    every = timedelta(seconds=0.3)
    at = datetime(2026, 11, 16, 9, 20, 0, 250_000, tzinfo=UTC)
    due = redrive_due(at, every)
    assert due <= at < due + every and (due - REDRIVE_EPOCH) % every == timedelta(0)
    # A run a few milliseconds early, or late within the interval, is for the same due time.
    assert redrive_due(due - timedelta(milliseconds=8), every) == due
    assert redrive_due(due + timedelta(milliseconds=280), every) == due
    assert redrive_due(due + every, every) == due + every
    assert redrive_due(at, timedelta(minutes=1)) == datetime(2026, 11, 16, 9, 20, tzinfo=UTC)

"""The ceilings `bench/ingest.py` holds the HTTP API against: plain `sqlite3` and plain
psycopg writing the same events into the app's own migrated schema, with no HTTP and no
validation. Each run, the API's too, leaves the CPU it used in `LAST_CPU`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from common import AIUSAGE

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU a process (or, by its id, a thread) has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# CPU (ms) per 1,000 events of the last run, by whose: "app" (the replicas or the ceiling's
# writer threads) and "pg" (their PostgreSQL backends); printed with each round.
LAST_CPU: dict[str, float] = {}


SQLITE_EVENT_COLUMNS = (
    "integration_id, event_id, identity_id, occurred_at, day, tool, kind, model, requests, "
    "input_tokens, output_tokens, suggestions_shown, suggestions_accepted, lines_accepted, "
    "cost_usd, commits, pull_requests, attributes, received_at"
)


def ceiling(database_url: str, events: list[dict], batch: int) -> float:
    """Plain sqlite3 into the app's own schema (migrated by `aiusage db upgrade`, so the same
    indexes, foreign keys and weekly-mark triggers on usage_daily), with the app's pragmas
    (WAL, synchronous=FULL, foreign keys on): per batch the unique insert, the rollup upsert
    and one durable commit. No HTTP, no validation."""
    env = {**os.environ, "AIUSAGE_DATABASE_URL": database_url}
    subprocess.run([AIUSAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
    conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    now = datetime.now(UTC).isoformat(" ", "microseconds")[:26]
    conn.execute(
        "INSERT INTO integrations (name, key_id, key_hash, created_at) "
        "VALUES ('ceiling', 'k', 'h', ?)",
        (now,),
    )
    conn.executemany(
        "INSERT INTO identities (kind, value, created_at) VALUES ('slack', ?, ?)",
        [(f"U{i:05d}", now) for i in range(2000)],
    )
    # Each Slack identity linked to its person, as the app links them on first sight: the
    # weekly marks are per person (0140_orgcold), so unlinked rows would skip their inserts.
    conn.execute(
        "INSERT INTO people (slack_user_id, created_at, is_workspace_admin, opted_out) "
        "SELECT value, ?, 0, 0 FROM identities",
        (now,),
    )
    conn.execute(
        "UPDATE identities SET linked_by = 'auto', linked_at = ?, person_id = "
        "(SELECT id FROM people WHERE slack_user_id = identities.value)",
        (now,),
    )
    identities = dict(conn.execute("SELECT value, id FROM identities").fetchall())
    started = time.perf_counter()
    for offset in range(0, len(events), batch):
        chunk = events[offset : offset + batch]
        rows = [
            (1, e["event_id"], identities[e["user"]["slack_user_id"]],
             e["occurred_at"][:19].replace("T", " ") + ".000000", e["occurred_at"][:10],
             e["tool"], e["kind"], e["model"], 1, e["input_tokens"], e["output_tokens"],
             e["suggestions_shown"], e["suggestions_accepted"], None, e["cost_usd"], None, None,
             None, now)
            for e in chunk
        ]  # fmt: skip
        daily: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0, 0])
        for r in rows:
            acc = daily[(r[2], r[4], r[5], r[6], "events")]
            for i, v in enumerate((1, r[9], r[10], r[11], r[12], r[14], 1)):
                acc[i] += v
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT INTO usage_events ({SQLITE_EVENT_COLUMNS}) "
            f"VALUES ({', '.join('?' * 19)}) ON CONFLICT DO NOTHING",
            rows,
        )
        conn.executemany(
            "INSERT INTO usage_daily (identity_id, day, tool, kind, origin, requests, "
            "input_tokens, output_tokens, suggestions_shown, suggestions_accepted, cost_usd, "
            "events) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
            "requests = requests + excluded.requests, "
            "input_tokens = input_tokens + excluded.input_tokens, "
            "output_tokens = output_tokens + excluded.output_tokens, "
            "suggestions_shown = suggestions_shown + excluded.suggestions_shown, "
            "suggestions_accepted = suggestions_accepted + excluded.suggestions_accepted, "
            "cost_usd = cost_usd + excluded.cost_usd, events = events + excluded.events",
            [(*key, *acc) for key, acc in sorted(daily.items())],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    stored = conn.execute("SELECT count(*) FROM usage_events").fetchone()[0]
    marks = conn.execute("SELECT count(*) FROM usage_weekly_stale").fetchone()[0]
    conn.close()
    assert stored == len(events) and marks, (stored, marks)
    return len(events) / elapsed


PG_EVENT_COLUMNS = (
    "integration_id, event_id, identity_id, occurred_at, day, tool, kind, model, requests, "
    "input_tokens, output_tokens, suggestions_shown, suggestions_accepted, lines_accepted, "
    "cost_usd, attributes, received_at"
)
PG_DAILY_COLUMNS = (
    "identity_id, day, tool, kind, origin, requests, input_tokens, output_tokens, "
    "suggestions_shown, suggestions_accepted, lines_accepted, cost_usd, events"
)


def pg_row(integration: int, identities: dict, e: dict, now: datetime) -> tuple:
    at = datetime.fromisoformat(e["occurred_at"])
    return (
        integration, e["event_id"], identities[e["user"]["slack_user_id"]], at, at.date(),
        e["tool"], e["kind"], e["model"], 1, e["input_tokens"], e["output_tokens"],
        e["suggestions_shown"], e["suggestions_accepted"], None, e["cost_usd"], None, now,
    )  # fmt: skip


def pg_ceiling(database_url: str, events: list[dict], batch: int, clients: int) -> float:
    """Plain psycopg into the app's own schema (migrated by `aiusage db upgrade`): per batch,
    COPY into a staging table, the unique insert, the rollup upsert, a durable commit; the
    same number of writers as API clients. No HTTP, no validation."""
    env = {**os.environ, "AIUSAGE_DATABASE_URL": database_url}
    subprocess.run([AIUSAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
    plain = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    now = datetime.now(UTC)
    with psycopg.connect(plain, autocommit=True) as conn:
        integration = conn.execute(
            "INSERT INTO integrations (name, key_id, key_hash, created_at) "
            "VALUES ('ceiling', 'k', 'h', now()) RETURNING id"
        ).fetchone()[0]
        with conn.cursor().copy("COPY identities (kind, value, created_at) FROM STDIN") as copy:
            for i in range(2000):
                copy.write_row(("slack", f"U{i:05d}", now))
        # Linked to their people, as the app links them on first sight: the weekly marks are
        # per person (0140_orgcold), and unlinked identities would skip their inserts.
        conn.execute(
            "INSERT INTO people (slack_user_id, created_at, is_workspace_admin, opted_out) "
            "SELECT value, now(), false, false FROM identities"
        )
        conn.execute(
            "UPDATE identities i SET person_id = p.id, linked_by = 'auto', linked_at = now() "
            "FROM people p WHERE p.slack_user_id = i.value"
        )
        identities = dict(conn.execute("SELECT value, id FROM identities").fetchall())
    chunks = [events[i : i + batch] for i in range(0, len(events), batch)]
    used = {"app": [0.0] * clients, "pg": [0.0] * clients}

    def write(worker: int) -> None:
        app_started = time.thread_time()
        with psycopg.connect(plain) as conn:
            backend = conn.info.backend_pid
            pg_started = cpu_seconds(backend)
            conn.execute(
                f"CREATE TEMP TABLE staged_events ON COMMIT DELETE ROWS AS "
                f"SELECT {PG_EVENT_COLUMNS} FROM usage_events WITH NO DATA"
            )
            conn.commit()
            for chunk in chunks[worker::clients]:
                rows = [pg_row(integration, identities, e, now) for e in chunk]
                with conn.cursor().copy(
                    f"COPY staged_events ({PG_EVENT_COLUMNS}) FROM STDIN"
                ) as cp:
                    for row in rows:
                        cp.write_row(row)
                conn.execute(
                    f"INSERT INTO usage_events ({PG_EVENT_COLUMNS}) SELECT {PG_EVENT_COLUMNS} "
                    "FROM staged_events ON CONFLICT (integration_id, event_id, day) DO NOTHING"
                )
                conn.execute(
                    f"INSERT INTO usage_daily ({PG_DAILY_COLUMNS}) SELECT identity_id, day, "
                    "tool, kind, 'events', sum(requests), sum(input_tokens), sum(output_tokens), "
                    "sum(suggestions_shown), sum(suggestions_accepted), sum(lines_accepted), "
                    "sum(cost_usd), count(*) FROM staged_events GROUP BY 1, 2, 3, 4 "
                    "ON CONFLICT (identity_id, day, tool, kind, origin) DO UPDATE SET "
                    "requests = usage_daily.requests + excluded.requests, "
                    "input_tokens = usage_daily.input_tokens + excluded.input_tokens, "
                    "output_tokens = usage_daily.output_tokens + excluded.output_tokens, "
                    "suggestions_shown = coalesce(usage_daily.suggestions_shown + "
                    "excluded.suggestions_shown, excluded.suggestions_shown), "
                    "suggestions_accepted = coalesce(usage_daily.suggestions_accepted + "
                    "excluded.suggestions_accepted, excluded.suggestions_accepted), "
                    "cost_usd = coalesce(usage_daily.cost_usd + excluded.cost_usd, "
                    "excluded.cost_usd), events = usage_daily.events + excluded.events"
                )
                conn.commit()
            used["pg"][worker] = cpu_seconds(backend) - pg_started
        used["app"][worker] = time.thread_time() - app_started

    threads = [threading.Thread(target=write, args=(w,)) for w in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = len(events) / (time.perf_counter() - started)
    with psycopg.connect(plain) as conn:
        stored, marks = conn.execute(
            "SELECT (SELECT count(*) FROM usage_events), (SELECT count(*) FROM usage_weekly_stale)"
        ).fetchone()
    assert stored == len(events) and marks, (stored, marks)
    LAST_CPU.update({whose: sum(cpu) / len(events) * 1e6 for whose, cpu in used.items()})
    return rate

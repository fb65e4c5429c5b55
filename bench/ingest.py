"""Ingest throughput: the HTTP API (a real `aiusage serve` process) against the ceiling of
plain `sqlite3.executemany` into the app's own migrated schema (its indexes, foreign keys
and the weekly rollup's triggers), plus PostgreSQL and server memory.
On PostgreSQL the ceiling is plain psycopg on the app's own schema (COPY into a staging table,
then the same unique insert and rollup upsert, one durable commit a batch), and the API runs
as one or more replicas (`--replicas`), clients spread over them.

On a shared machine the load drifts between measurements, so each round measures the
ceiling and the API back to back (alternating which goes first) and the verdict is the
median of the rounds' ratios.

    python bench/ingest.py                 # 200,000 events, SQLite and PostgreSQL
    python bench/ingest.py --events 20000  # a quick look
    python bench/ingest.py --replicas 2 --clients 4
    python bench/ingest.py --events 40000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

# bench/org.py sits on sys.path as `org`, which pickle probes for (a Jython package) when
# httpx pulls in rich: make that probe fail as it does everywhere else.
sys.modules.setdefault("org", None)  # type: ignore[arg-type]

import httpx  # noqa: E402
import orjson  # noqa: E402
import psycopg  # noqa: E402
from common import (  # noqa: E402
    AIUSAGE,
    PG_ADMIN,
    create_integration,
    fresh_database,
    postgres_reachable,
    running_server,
)

T = TypeVar("T")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TOOLS = ("claude-code", "copilot", "kiro")
KINDS = ("agent", "chat", "inline_suggestion")


def make_events(n: int) -> list[dict]:
    start = datetime(2026, 11, 9, 8, tzinfo=UTC)
    return [
        {
            "event_id": f"bench-{i}",
            "user": {"slack_user_id": f"U{i % 2000:05d}"},
            "occurred_at": (start + timedelta(seconds=i * 3)).isoformat(),
            "tool": TOOLS[i % 3],
            "kind": KINDS[i % 3],
            "model": "model-a",
            "input_tokens": 100 + i % 50,
            "output_tokens": 20 + i % 7,
            "suggestions_shown": 3,
            "suggestions_accepted": i % 4 % 3,
            "cost_usd": 0.0012,
        }
        for i in range(n)
    ]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU a process (or, by its id, a thread) has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def backend_pids(database_url: str, application: str) -> list[int]:
    """The PostgreSQL server processes of the connections that named themselves so."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchall()
    return [pid for (pid,) in rows]


def tagged(database_url: str, application: str) -> str:
    """The URL with an application name, so the bench can find its PostgreSQL backends."""
    if not database_url.startswith("postgresql"):
        return database_url
    joiner = "&" if "?" in database_url else "?"
    return f"{database_url}{joiner}application_name={application}"


# CPU (ms) per 1,000 events of the last run, by whose: "app" (the replicas or the ceiling's
# writer threads) and "pg" (their PostgreSQL backends); printed with each round.
LAST_CPU: dict[str, float] = {}


def through_api(
    database_url: str, bodies: list[bytes], clients: int, replicas: int = 1
) -> tuple[float, float]:
    """Events per second through real servers (`replicas` of them, clients spread over
    them), and the largest server peak RSS in MB."""
    application = f"bench_api_{os.getpid()}"
    database_url = tagged(database_url, application)
    env = {**os.environ, "AIUSAGE_DATABASE_URL": database_url}
    key = create_integration(env)
    with ExitStack() as stack:
        servers = [stack.enter_context(running_server(env)) for _ in range(replicas)]
        pg_before = {pid: cpu_seconds(pid) for pid in backend_pids(database_url, application)}
        app_before = sum(cpu_seconds(server.pid) for _, server in servers)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        accepted = [0] * clients

        def send(worker: int) -> None:
            base = f"http://127.0.0.1:{servers[worker % replicas][0]}"
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                for body in bodies[worker::clients]:
                    response = http.post("/api/v1/events", content=body)
                    response.raise_for_status()
                    accepted[worker] += response.json()["accepted"]

        threads = [threading.Thread(target=send, args=(w,)) for w in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        total = sum(accepted)
        assert total == sum(len(orjson.loads(b)["events"]) for b in bodies), total
        app_cpu = sum(cpu_seconds(server.pid) for _, server in servers) - app_before
        pg_cpu = 0.0
        if database_url.startswith("postgresql"):
            pg_cpu = sum(
                cpu_seconds(pid) - pg_before.get(pid, 0.0)
                for pid in backend_pids(database_url, application)
            )
        LAST_CPU.update(app=app_cpu / total * 1e6, pg=pg_cpu / total * 1e6)
        return total / elapsed, max(peak_rss_mb(server.pid) for _, server in servers)


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


def rounds(
    count: int, ceiling_run: Callable[[], float], api_run: Callable[[], tuple[float, float]]
) -> tuple[list[float], list[float], float]:
    """Ceiling and API measured back to back `count` times, alternating which goes first;
    their rates and the largest server peak RSS."""
    ceilings: list[float] = []
    apis: list[float] = []
    peak = 0.0
    for n in range(count):
        cpu: dict[str, dict[str, float]] = {}
        for which in ("api", "ceiling") if n % 2 else ("ceiling", "api"):
            LAST_CPU.clear()
            if which == "api":
                rate, rss = api_run()
            else:
                ceilings.append(ceiling_run())
            cpu[which] = dict(LAST_CPU)
        apis.append(rate)
        peak = max(peak, rss)
        print(f"  round {n + 1}: ceiling {ceilings[-1]:>9,.0f}  API {rate:>9,.0f} events/s  "
              f"ratio {rate / ceilings[-1]:.2f}  load {os.getloadavg()[0]:.1f}")  # fmt: skip
        if cpu["api"]:
            print(
                "    CPU ms per 1,000 events: "
                + "; ".join(
                    f"{which} " + ", ".join(f"{k} {v:.1f}" for k, v in used.items())
                    for which, used in cpu.items()
                    if used
                )
            )
    return ceilings, apis, peak


def verdict(name: str, ceilings: list[float], apis: list[float], peak: float) -> None:
    ratios = [api / ceiling for ceiling, api in zip(ceilings, apis, strict=True)]
    print(
        f"{name}: ceiling median {statistics.median(ceilings):,.0f}, API median "
        f"{statistics.median(apis):,.0f} events/s, ratio median {statistics.median(ratios):.2f} "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}), server peak RSS {peak:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=1, help="API servers on PostgreSQL")
    parser.add_argument("--rounds", type=int, default=3, help="ceiling/API pairs per database")
    parser.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()

    events = make_events(args.events)
    bodies = [
        orjson.dumps({"events": events[i : i + args.batch]})
        for i in range(0, len(events), args.batch)
    ]
    print(f"{args.events:,} events in batches of {args.batch}, {args.clients} client threads")

    def in_fresh(kind: str, run: Callable[[str], T]) -> T:
        with tempfile.TemporaryDirectory() as tmp, fresh_database(kind, tmp) as url:
            return run(url)

    if not args.postgres_only:
        print("SQLite (ceiling: sqlite3.executemany into the app's migrated schema, same pragmas)")
        verdict(
            "SQLite",
            *rounds(
                args.rounds,
                lambda: in_fresh("sqlite", lambda url: ceiling(url, events, args.batch)),
                lambda: in_fresh("sqlite", lambda url: through_api(url, bodies, args.clients)),
            ),
        )
    if not postgres_reachable():
        print("PostgreSQL: not reachable, skipped")
        return
    print(f"PostgreSQL (ceiling: psycopg COPY + upserts; API: {args.replicas} replica(s))")
    verdict(
        "PostgreSQL",
        *rounds(
            args.rounds,
            lambda: in_fresh(
                "postgresql", lambda url: pg_ceiling(url, events, args.batch, args.clients)
            ),
            lambda: in_fresh(
                "postgresql",
                lambda url: through_api(url, bodies, args.clients, args.replicas),
            ),
        ),
    )


if __name__ == "__main__":
    main()

"""Ingest throughput: the HTTP API (a real `aiusage serve` process) against the ceiling of
plain `sqlite3.executemany` into the app's own migrated schema (its indexes, foreign keys
and the weekly rollup's triggers), plus PostgreSQL and server memory.
On PostgreSQL the ceiling is plain psycopg on the app's own schema (COPY into a staging table,
then the same unique insert and rollup upsert, one durable commit a batch), and the API runs
as one or more replicas (`--replicas`), clients spread over them.

On a shared machine the load drifts between measurements, so each round measures the
ceiling and the API back to back (alternating which goes first) and the verdict is the
median of the rounds' ratios. The ceilings themselves are in bench/ingest_ceiling.py.

    python bench/ingest.py                 # 200,000 events, SQLite and PostgreSQL
    python bench/ingest.py --events 20000  # a quick look
    python bench/ingest.py --replicas 2 --clients 4
    python bench/ingest.py --events 40000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
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
    PG_ADMIN,
    create_integration,
    fresh_database,
    postgres_reachable,
    running_server,
)
from ingest_ceiling import LAST_CPU, ceiling, cpu_seconds, pg_ceiling  # noqa: E402

T = TypeVar("T")
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

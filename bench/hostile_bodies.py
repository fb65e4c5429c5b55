"""Hostile bodies against a real `aiusage serve`: how fast each kind is answered, with what
status, and the server's peak memory (VmHWM) while they arrive, next to its peak under
ordinary traffic (full collector batches, which are the largest legitimate bodies).

    python bench/hostile_bodies.py                     # 20 of each kind, 8 at a time, SQLite
    python bench/hostile_bodies.py --each 50 --concurrency 16 --database postgresql
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import create_integration, fresh_database, running_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.otlp.helpers import DELTA, claude_resource, metrics, point
from tests.test_hostile_bodies import nested_any_value

MiB = 1024 * 1024


def kinds() -> dict[str, tuple[str, str, bytes, bool]]:
    """name -> (path, content type, body, gzipped). Bodies are built (and gzipped) once."""
    proto, json_ = "application/x-protobuf", "application/json"
    return {
        "OTLP/JSON gzip, 5 M empty objects (15 MiB inflated)": (
            "/v1/metrics",
            json_,
            gzip.compress(b'{"resourceMetrics":[' + b"{}," * (5 * MiB) + b"{}]}", 9),
            True,
        ),
        "OTLP protobuf gzip, 7 M empty messages (14 MiB inflated)": (
            "/v1/metrics",
            proto,
            gzip.compress(b"\x0a\x00" * (7 * MiB), 9),
            True,
        ),
        "OTLP protobuf plain, 4 M empty messages (8 MiB)": (
            "/v1/metrics",
            proto,
            b"\x0a\x00" * (4 * MiB - 1),
            False,
        ),
        "gzip bomb, 1 GiB of zeros inflated": (
            "/v1/metrics",
            json_,
            gzip.compress(b"\x00" * (1024 * MiB), 9),
            True,
        ),
        "OTLP/JSON arrays 1,000 deep": (
            "/v1/metrics",
            json_,
            b'{"resourceMetrics":' + b"[" * 1000 + b"]" * 1000 + b"}",
            False,
        ),
        "OTLP protobuf values 5,000 deep (gzip)": (
            "/v1/metrics",
            proto,
            gzip.compress(nested_any_value(5000), 9),
            True,
        ),
        "API, 349 k empty objects (1 MiB)": (
            "/api/v1/events",
            json_,
            b'{"events":[' + b"{}," * 349_000 + b"{}]}",
            False,
        ),
        "API, arrays 100,000 deep": (
            "/api/v1/events",
            json_,
            b"[" * 100_000 + b"]" * 100_000,
            False,
        ),
    }


def collector_batch() -> bytes:
    """8,192 delta points with their attributes, as an OpenTelemetry collector batches them."""
    points = [
        point(1, type="input", model="claude-sonnet-4-5", session__id=f"s{i}") for i in range(8192)
    ]
    message = metrics(
        ("claude_code.token.usage", points),
        temporality=DELTA,
        resource=claude_resource("dev@example.com"),
    )
    return gzip.compress(message.SerializeToString())


def post(port: int, key: str, path: str, ctype: str, body: bytes, gz: bool) -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": ctype}
    if gz:
        headers["Content-Encoding"] = "gzip"
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, time.perf_counter() - started


def memory_kib(pid: int) -> dict[str, int]:
    """The server's resident set now (VmRSS) and at its peak so far (VmHWM), in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def burst(port, key, request, each, concurrency) -> tuple[Counter[int], list[float]]:
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: post(port, key, *request), range(each)))
    return Counter(status for status, _ in results), [took for _, took in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--each", type=int, default=20, help="requests of each kind")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    hostile = kinds()
    normal = ("/v1/metrics", "application/x-protobuf", collector_batch(), True)
    with tempfile.TemporaryDirectory() as workdir, fresh_database(args.database, workdir) as url:
        env = {**os.environ, "AIUSAGE_DATABASE_URL": url}
        key = create_integration(env)
        with running_server(env) as (port, server):
            idle = memory_kib(server.pid)
            statuses, times = burst(port, key, normal, args.each, args.concurrency)
            ordinary = memory_kib(server.pid)
            print(f"idle RSS {idle['VmRSS'] / 1024:.0f} MiB")
            print(
                f"| ordinary: collector batch of 8,192 points | {args.each} | "
                f"{dict(statuses)} | {statistics.median(times) * 1000:.0f} | "
                f"{max(times) * 1000:.0f} | {ordinary['VmHWM'] / 1024:.0f} |"
            )
            for name, request in hostile.items():
                statuses, times = burst(port, key, request, args.each, args.concurrency)
                peak = memory_kib(server.pid)["VmHWM"]
                print(
                    f"| {name} | {args.each} | {dict(statuses)} | "
                    f"{statistics.median(times) * 1000:.0f} | {max(times) * 1000:.0f} | "
                    f"{peak / 1024:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()

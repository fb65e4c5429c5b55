"""OTLP throughput: data points per second through `POST /v1/metrics` (protobuf) of a real
`aiusage serve` process, with payloads the OpenTelemetry SDK itself builds and encodes for
Claude Code's metrics, cumulative as the SDK exports by default.

    python bench/otlp.py                          # 50 users x 40 exports, SQLite
    python bench/otlp.py --users 200 --exports 60 --database postgresql
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

AIUSAGE = str(Path(sys.executable).with_name("aiusage"))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5")


def sdk_payloads(users: int, exports: int) -> tuple[list[bytes], int]:
    """`exports` protobuf bodies, each a collection of every user's series after some more
    use, as Claude Code's SDK would send them every export interval."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": "claude-code", "service.version": "2.0.14"}),
    )
    meter = provider.get_meter("com.anthropic.claude_code", "2.0.14")
    tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
    cost = meter.create_counter("claude_code.cost.usage", unit="USD")
    lines = meter.create_counter("claude_code.lines_of_code.count")
    decisions = meter.create_counter("claude_code.code_edit_tool.decision")
    bodies: list[bytes] = []
    points = 0
    for round_ in range(exports):
        for user in range(users):
            who = {"user.email": f"dev{user}@example.com", "session.id": f"s-{user}"}
            model = {**who, "model": MODELS[user % 2]}
            for kind, amount in (("input", 900), ("output", 200), ("cacheRead", 5000)):
                tokens.add(amount + round_, {**model, "type": kind})
            tokens.add(50, {**model, "type": "cacheCreation"})
            cost.add(0.01, model)
            lines.add(12, {**who, "type": "added"})
            lines.add(3, {**who, "type": "removed"})
            decisions.add(1, {**who, "decision": "accept", "tool_name": "Edit"})
            decisions.add(1, {**who, "decision": "reject", "tool_name": "Write"})
        data = reader.get_metrics_data()
        message = encode_metrics(data)
        points += sum(
            len(metric.sum.data_points)
            for rm in message.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        )
        bodies.append(message.SerializeToString())
    provider.shutdown()
    return bodies, points


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(kind: str, workdir: str) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{workdir}/bench.db", None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    base = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}?options=-csearch_path%3D{schema}", schema


def run(kind: str, bodies: list[bytes], points: int) -> float:
    """Data points per second through a fresh server and database."""
    with tempfile.TemporaryDirectory() as workdir:
        url, schema = database_url(kind, workdir)
        env = {**os.environ, "AIUSAGE_DATABASE_URL": url}
        created = subprocess.run(
            [AIUSAGE, "integrations", "create", "bench"], env=env, capture_output=True, text=True
        )
        key = created.stdout.strip().splitlines()[-1]
        port = free_port()
        server = subprocess.Popen(
            [AIUSAGE, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
        )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(200):
                try:
                    conn.request("GET", "/healthz")
                    if conn.getresponse().read() and True:
                        break
                except OSError:
                    conn.close()
                    time.sleep(0.05)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
            started = time.perf_counter()
            for body in bodies:
                conn.request("POST", "/v1/metrics", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200 or answer:
                    raise SystemExit(f"export refused: {response.status} {answer[:200]!r}")
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
            if schema:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return points / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="people exporting at once")
    parser.add_argument("--exports", type=int, default=40, help="export rounds")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    bodies, points = sdk_payloads(args.users, args.exports)
    size = sum(map(len, bodies)) / len(bodies)
    print(
        f"{len(bodies)} exports, {points} data points ({points // len(bodies)} a request, "
        f"{size / 1024:.0f} KiB protobuf each), {os.cpu_count()} cores"
    )
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    for kind in kinds:
        print(f"{kind:<10} {run(kind, bodies, points):>10,.0f} data points/s")


if __name__ == "__main__":
    main()

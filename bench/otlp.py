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
import tempfile
import time

from common import create_integration, fresh_database, running_server
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

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


def run(kind: str, bodies: list[bytes], points: int) -> float:
    """Data points per second through a fresh server and database."""
    with tempfile.TemporaryDirectory() as workdir, fresh_database(kind, workdir) as url:
        env = {**os.environ, "AIUSAGE_DATABASE_URL": url}
        key = create_integration(env)
        with running_server(env) as (port, _server):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
            started = time.perf_counter()
            for body in bodies:
                conn.request("POST", "/v1/metrics", body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                if response.status != 200 or answer:
                    raise SystemExit(f"export refused: {response.status} {answer[:200]!r}")
            elapsed = time.perf_counter() - started
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

"""Prometheus metrics, in a registry of the app's own so tests and apps never share one."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# HTTP takes any token as a method; a label per made-up one would grow without end.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "aiusage_events",
            "Usage events received, by integration and outcome.",
            ["integration", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aiusage_http_request_duration_seconds",
            "HTTP request latency, by route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        # How long ranking everyone's week for `top` takes at this company's size, and how
        # often it is done (in the background while usage lands; the first of a week waits).
        self.ranking = Histogram(
            "aiusage_ranking_seconds",
            "Time to rank everyone's week for the leaderboard, per computation.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )

    def count_events(self, integration: str, accepted: int, duplicates: int, rejected: int) -> None:
        for outcome, n in (
            ("accepted", accepted),
            ("duplicate", duplicates),
            ("rejected", rejected),
        ):
            if n:
                self.events.labels(integration, outcome).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LatencyMiddleware:
    """Times every HTTP request; labels by route template, not raw path, to bound cardinality."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route: Any = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            self.metrics.latency.labels(method, path, str(status)).observe(
                time.perf_counter() - started
            )

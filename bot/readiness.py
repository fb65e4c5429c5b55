"""`GET /readyz`: whether a load balancer should send this replica traffic."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from types import FrameType

import uvicorn
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.services import Services
from storage.coordination import migrations_current


@dataclass
class Readiness:
    """Set to draining on SIGTERM, before the server stops taking requests."""

    draining: threading.Event = field(default_factory=threading.Event)


def readiness_route(services: Services, readiness: Readiness) -> Route:
    async def readyz(_request: Request) -> Response:
        problem = await run_in_threadpool(_problem, services, readiness)
        if problem is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "error": problem}, 503)

    return Route("/readyz", readyz, methods=["GET"])


def _problem(services: Services, readiness: Readiness) -> str | None:
    if readiness.draining.is_set():
        return "draining: shutting down"
    if not services.db.ping():
        return "database does not answer"
    try:
        if not migrations_current(services.db):
            return "database schema is not at this version's migrations"
    except Exception:
        return "database schema cannot be read"
    return None


class DrainingServer(uvicorn.Server):
    """uvicorn, except that SIGTERM first turns /readyz 503 and keeps serving for
    `drain_seconds` (so the load balancer sees it and stops sending traffic), then stops the
    usual way: no new connections, in-flight requests finished. A second signal stops now."""

    def __init__(self, config: uvicorn.Config, readiness: Readiness, drain_seconds: float):
        super().__init__(config)
        self.readiness = readiness
        self.drain_seconds = drain_seconds

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.readiness.draining.is_set() and self.drain_seconds:
            self.readiness.draining.set()
            timer = threading.Timer(self.drain_seconds, super().handle_exit, (sig, frame))
            timer.daemon = True
            timer.start()
            return
        self.readiness.draining.set()
        super().handle_exit(sig, frame)

"""Whether a load balancer should send this replica traffic (`GET /readyz`, in
`bot/api/health.py`), and the uvicorn server that turns it off on SIGTERM before draining."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from types import FrameType

import uvicorn


@dataclass
class Readiness:
    """Set to draining on SIGTERM, before the server stops taking requests."""

    draining: threading.Event = field(default_factory=threading.Event)


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

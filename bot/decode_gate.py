"""A limit on how many request bodies are decoded at once. Decoding is CPU work in worker
threads; without a limit, a burst of large or hostile bodies would take every core and every
worker thread, and their memory at once. Past the limit a request waits briefly, then is told
to retry (503 with Retry-After), which OTLP exporters and well-behaved clients do."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

RETRY_AFTER_S = 1


class Busy(Exception):
    """Every decode slot stayed taken for the whole wait."""


class DecodeGate:
    """At most `slots` decodes at a time; a request waits up to `wait_s` for one. Acquired on
    the event loop, so waiting requests hold no worker thread."""

    def __init__(self, slots: int | None = None, wait_s: float = 2.0) -> None:
        self.slots = slots or max(2, os.cpu_count() or 2)
        self.wait_s = wait_s
        self._semaphore = asyncio.Semaphore(self.slots)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.wait_s)
        except TimeoutError:
            raise Busy from None
        try:
            yield
        finally:
            self._semaphore.release()

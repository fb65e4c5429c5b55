"""A limit on how many request bodies are decoded at once. Decoding is CPU work; without a
limit, a burst of large or hostile bodies would take every core, every worker thread, and
their memory at once. Decodes run on a few threads of their own (so only their allocator
arenas ever hold a decoded body); past the limit a request waits briefly, then is told to
retry (503 with Retry-After), which OTLP exporters and well-behaved clients do."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

RETRY_AFTER_S = 1

P = ParamSpec("P")
T = TypeVar("T")


class Busy(Exception):
    """Every decode slot stayed taken for the whole wait."""


class DecodeGate:
    """At most `slots` decodes at a time; a request waits up to `wait_s` for one. Waiting
    happens on the event loop, so a waiting request holds no thread."""

    def __init__(self, slots: int | None = None, wait_s: float = 2.0) -> None:
        self.slots = slots or max(2, os.cpu_count() or 2)
        self.wait_s = wait_s
        self._semaphore = asyncio.Semaphore(self.slots)
        self._threads = ThreadPoolExecutor(self.slots, thread_name_prefix="decode")

    async def run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`work(*args)` on a decode thread once a slot is free; Busy if none frees in time."""
        try:
            await asyncio.wait_for(self._semaphore.acquire(), self.wait_s)
        except TimeoutError:
            raise Busy from None
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._threads, lambda: work(*args, **kwargs))
        finally:
            self._semaphore.release()

    def close(self) -> None:
        """Stop the decode threads once their work is done (at shutdown)."""
        self._threads.shutdown(wait=True)

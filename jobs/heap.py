"""Pausing the cyclic garbage collector while a job builds or scans a week of everyone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off inside, back on after (unless it was off already). A week
    of everyone is hundreds of thousands of objects without cycles, which reference counting
    frees; while they are made, the collector walks every object alive again and again, and
    took half of deciding the awards for 100,000 people (bench/awards.py). Another thread's
    garbage is not lost meanwhile, only collected later."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()

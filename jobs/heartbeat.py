"""A holder's heartbeat: its lease renewed on a thread of its own while it works, so a slow
far side (a 429 can hold a call for minutes) never lets the lease run out under a live
holder, while a holder that dies stops renewing and its lease runs out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

log = logging.getLogger(__name__)


@contextmanager
def heartbeat(every: timedelta, renew: Callable[[], bool], what: str) -> Iterator[threading.Event]:
    """Call `renew` every `every` while the block runs. The event it yields is set, and the
    beats stop, once `renew` returns False: what it held is gone or another's. A beat that
    raises is logged as `could not renew {what}` and the next one tries again."""
    stop, lost = threading.Event(), threading.Event()

    def beat() -> None:
        while not stop.wait(every.total_seconds()):
            try:
                if not renew():
                    lost.set()
                    return
            except Exception:  # a missed beat only shortens the lease; the next one retries
                log.exception("could not renew %s", what)

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield lost
    finally:
        stop.set()
        thread.join()

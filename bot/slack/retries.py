"""Slack's retries of an event this process has already taken in."""

from __future__ import annotations

import threading
from collections import OrderedDict


class EventsInHand:
    """The ids of the last `size` events this process took in and did not fail. Slack retries
    an event (`X-Slack-Retry-Num`) when our answer was slow or lost; when the first try was in
    fact answered, the retry only repeats the work: a Home open retried twice published the
    tab, and uploaded its chart, three times. Per process: a retry that reaches another
    replica does the work again, which every event handler here can bear. Safe across
    threads: Socket Mode dispatches envelopes from a pool."""

    def __init__(self, size: int = 4096) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def claim(self, event_id: str) -> bool:
        """Take the event in, in one step with the check: False when it was in hand already
        (a retry, perhaps arriving while the first try is still being worked on)."""
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            while len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True

    def drop(self, event_id: str) -> None:
        """Forget an event whose first try failed, so that Slack's retry does the work."""
        with self._lock:
            self._ids.pop(event_id, None)

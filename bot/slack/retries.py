"""Slack's retries of an event this process has already taken in."""

from __future__ import annotations

from collections import OrderedDict


class EventsInHand:
    """The ids of the last `size` events this process took in and did not fail. Slack retries
    an event (`X-Slack-Retry-Num`) when our answer was slow or lost; when the first try was in
    fact answered, the retry only repeats the work: a Home open retried twice published the
    tab, and uploaded its chart, three times. Per process: a retry that reaches another
    replica does the work again, which every event handler here can bear."""

    def __init__(self, size: int = 4096) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def take(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def drop(self, event_id: str) -> None:
        """Forget an event whose first try failed, so that Slack's retry does the work."""
        self._ids.pop(event_id, None)

"""Slack's 429s where they are handed back rather than waited out (the clients of the App Home
and of the work after the ack): how long Slack asks us to wait, whether that is short enough
to wait once, and a warning about them at most once a minute."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

LOG_EVERY_S = 60.0
# A Retry-After this short may be waited out, once, by someone who has nothing else to be
# answered with (a caller Slack never vouched for): two seconds of one thread, not 150.
SHORT_WAIT_S = 2.0
UNSAID_S = 5.0  # Slack's wait when it names none we can read


def rate_limited(exc: SlackApiError) -> bool:
    return exc.response.status_code == 429


def retry_after(exc: SlackApiError) -> float:
    """Slack's Retry-After for a 429, in seconds, held to 1 s .. 5 min (5 s when it is
    missing or not a number)."""
    said = said_wait(exc.response.headers)
    return UNSAID_S if said is None else min(max(said, 1.0), 300.0)


def short_wait(exc: SlackApiError) -> float | None:
    """Slack's Retry-After when it is a plain wait of at most SHORT_WAIT_S, worth sleeping
    out once; None when it is longer, missing, negative or not a number."""
    said = said_wait(exc.response.headers)
    return said if said is not None and 0.0 <= said <= SHORT_WAIT_S else None


def said_wait(headers: Mapping[str, Any] | None) -> float | None:
    """The Retry-After among `headers` as seconds, unbounded; None when there is none or
    it is not a number."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list) and value else value
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                return None
            # "nan" is a float too, and slips past min and max.
            return None if math.isnan(seconds) else seconds
    return None


class OncePer:
    """Whether a line about `key` is due: at most one per `every` seconds, so a limit that
    lasts while many open their Home says so once, not once an open."""

    def __init__(self, every: float = LOG_EVERY_S) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def due(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.every) < self.every:
                return False
            # Keys long quiet go, so one per person stays a handful at a time.
            for old, at in list(self._last.items()):
                if now - at >= self.every:
                    del self._last[old]
            self._last[key] = now
            return True

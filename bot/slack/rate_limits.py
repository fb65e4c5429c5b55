"""Slack's 429s where they are handed back rather than waited out (the App Home's client):
how long Slack asks us to wait, and a warning about them at most once a minute."""

from __future__ import annotations

import threading
import time

from slack_sdk.errors import SlackApiError

LOG_EVERY_S = 60.0


def rate_limited(exc: SlackApiError) -> bool:
    return exc.response.status_code == 429


def retry_after(exc: SlackApiError) -> float:
    """Slack's Retry-After for a 429, in seconds, held to 1 s .. 5 min."""
    headers = exc.response.headers or {}
    for name, value in headers.items():
        if name.lower() == "retry-after":
            value = value[0] if isinstance(value, list) and value else value
            try:
                return min(max(float(value), 1.0), 300.0)
            except (TypeError, ValueError):
                break
    return 5.0


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

"""What posting did in each channel, as plain data (pure, so answers and renderers can hold it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# The error of a post or edit Slack rate-limited (a 429): certainly not made, and made by the
# re-drive once Slack's Retry-After is over.
RATE_LIMITED = "ratelimited"


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """What happened in one channel: `posted` now, `found` (an earlier run's post was
    found and recorded), `already` posted before, `busy` (another run holds the claim),
    `gone` (a direct message to someone forgotten meanwhile: never posted), `undeliverable`
    (a direct message Slack will never take: not retried), `cancelled` (not posted: the
    post had no reason to be any more, every winner having opted out while it went round,
    say), `failed` (Slack refused) or `unknown` (no clear answer); those two are looked for
    in the channel and retried from `retry_at`, by the scheduled re-drive or any later run."""

    channel: str
    status: str
    ts: str | None = None
    error: str | None = None
    retry_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("posted", "found", "already", "busy", "gone", "cancelled")

    @property
    def rate_limited(self) -> bool:
        """Slack answered 429: not posted, and posted by the re-drive shortly."""
        return self.status == "failed" and self.error == RATE_LIMITED

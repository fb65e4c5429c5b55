"""What posting did in each channel, as plain data (pure, so answers and renderers can hold it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """What happened in one channel: `posted` now, `found` (an earlier run's post was
    found and recorded), `already` posted before, `busy` (another run holds the claim),
    `failed` (Slack refused; retried on a later run) or `unknown` (left for verification)."""

    channel: str
    status: str
    ts: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("posted", "found", "already", "busy")

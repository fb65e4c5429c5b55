"""What a post to the award channels did, as the CLI prints it: one line a channel, and one
line more when Slack rate-limited any of them."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.results import ChannelResult

# Said once under the channels: the CLI hands a 429 back at once rather than wait it out while
# the operator watches, and the post stays owed for `serve`'s re-drive.
RATE_LIMITED_LINE = (
    "Slack is rate-limiting posts just now; `aiusage serve` posts them shortly, once."
)


def channel_lines(results: Sequence[ChannelResult]) -> list[str]:
    """`  CHANNEL: status detail` for each channel (a 429 as `rate-limited`), then
    RATE_LIMITED_LINE when Slack rate-limited any."""
    lines = []
    for result in results:
        if result.rate_limited:
            lines.append(f"  {result.channel}: rate-limited")
            continue
        detail = result.ts or result.error or ""
        if result.retry_at is not None:
            detail += f"; checked and retried from {result.retry_at:%Y-%m-%d %H:%M:%S} UTC"
        lines.append(f"  {result.channel}: {result.status} {detail}".rstrip())
    if any(result.rate_limited for result in results):
        lines.append(RATE_LIMITED_LINE)
    return lines

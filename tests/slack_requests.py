"""Requests as Slack sends them, signed with the tests' signing secret. The builders live with
the demo in `bot.demo.signed_requests` (the demo signs its requests with them too)."""

from __future__ import annotations

from bot.demo import signed_requests
from bot.demo.fake_slack import TEAM_ID
from bot.demo.signed_requests import block_actions, signature, slash_command

SIGNING_SECRET = "test-signing-secret"

__all__ = [
    "SIGNING_SECRET",
    "TEAM_ID",
    "block_actions",
    "signature",
    "signed_headers",
    "slash_command",
]


def signed_headers(
    body: str,
    content_type: str = "application/x-www-form-urlencoded",
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The headers Slack sends with `body`, signed now (or at `timestamp`)."""
    return signed_requests.signed_headers(body, content_type, secret=secret, timestamp=timestamp)

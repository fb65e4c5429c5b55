"""The Slack Web API client: honours SLACK_API_URL and retries rate limits and outages."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.settings import Settings


def make_web_client(
    settings: Settings, *, retry_server_errors: bool = True, wait_out_rate_limits: bool = True
) -> WebClient:
    """A WebClient that waits out 429s (honouring Retry-After) and retries dropped
    connections and 5xx. Posts that must never repeat pass `retry_server_errors=False`: a
    5xx or a dropped connection can come after Slack has already posted, so their callers
    check before trying again. The App Home's client passes `wait_out_rate_limits=False`:
    waiting would put its few threads to sleep for everyone, so each 429 reaches the caller
    at once (`HomeService`)."""
    handlers: list[RetryHandler] = []
    if wait_out_rate_limits:
        handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    if retry_server_errors:
        # A connection dropped after the request was sent is as ambiguous as a 5xx.
        handlers.append(ConnectionErrorRetryHandler(max_retry_count=3))
        handlers.append(ServerErrorRetryHandler(max_retry_count=3))
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=settings.slack_timeout_seconds,  # type: ignore[arg-type]
        retry_handlers=handlers,
    )

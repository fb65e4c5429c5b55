"""The Slack Web API client: honours SLACK_API_URL and retries rate limits and outages."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.settings import Settings


def make_web_client(settings: Settings, *, retry_server_errors: bool = True) -> WebClient:
    """A WebClient that waits out 429s (honouring Retry-After) and retries dropped
    connections. Posts that must never repeat pass `retry_server_errors=False`: a 5xx can
    arrive after Slack has already posted, so their callers check before trying again."""
    handlers = [
        RateLimitErrorRetryHandler(max_retry_count=5),
        ConnectionErrorRetryHandler(max_retry_count=3),
    ]
    if retry_server_errors:
        handlers.append(ServerErrorRetryHandler(max_retry_count=3))
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token, base_url=settings.slack_api_url, timeout=10, retry_handlers=handlers
    )

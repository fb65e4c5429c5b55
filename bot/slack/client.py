"""The Slack Web API client: honours SLACK_API_URL and retries rate limits and outages."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.settings import Settings

HOME_PUBLISH = "views.publish"


class RateLimitRetries(RateLimitErrorRetryHandler):
    """Waits out a 429 (Retry-After) and sends again, except for the methods in `dropped`,
    whose 429 reaches the caller at once."""

    def __init__(self, max_retry_count: int, dropped: frozenset[str] = frozenset()) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.dropped = dropped

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.rsplit("/", 1)[-1] in self.dropped:
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


def make_web_client(
    settings: Settings, *, retry_server_errors: bool = True, wait_out_home_limits: bool = True
) -> WebClient:
    """A WebClient that waits out 429s (honouring Retry-After) and retries dropped
    connections and 5xx. Posts that must never repeat pass `retry_server_errors=False`: a
    5xx or a dropped connection can come after Slack has already posted, so their callers
    check before trying again. `serve`'s Slack app passes `wait_out_home_limits=False`: a
    Home publish sent again after Retry-After would be an old view, and the wait would hold
    a thread; its 429 is the Home's to handle (`HomeService`)."""
    dropped = frozenset() if wait_out_home_limits else frozenset({HOME_PUBLISH})
    handlers: list[RetryHandler] = [RateLimitRetries(max_retry_count=5, dropped=dropped)]
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

"""The Slack Web API client: honours SLACK_API_URL and retries rate limits and outages."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.settings import Settings
from bot.slack.rate_limits import said_wait

# The longest Retry-After a client that waits out 429s sleeps, each time. Slack asks for
# seconds; past a minute, or when the header is not a number of seconds, the 429 is handed
# back to the caller, whose post or edit stays owed for the re-drive: slack_sdk's own handler
# slept whatever the header said (99999999 s) and raised on a negative or unreadable one.
WAIT_MAX_S = 60.0


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """Waits out a 429 when Slack asks for a plain wait of at most `max_wait` seconds (a
    429 naming none is waited a second, as slack_sdk does), then calls `after_wait`, which
    may raise to stop; any other 429 is handed back."""

    def __init__(
        self,
        max_retry_count: int = 5,
        max_wait: float = WAIT_MAX_S,
        after_wait: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.after_wait = after_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code == 429 and self._wait(response) >= 0

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        assert response is not None  # only a 429 is retried
        state.next_attempt_requested = True
        time.sleep(self._wait(response) + random.random())
        self.after_wait()
        state.increment_current_attempt()

    def _wait(self, response: HttpResponse) -> float:
        """Seconds to wait before sending again; -1 when it is not to be sent again."""
        if not any(name.lower() == "retry-after" for name in response.headers):
            return 1.0
        said = said_wait(response.headers)
        return said if said is not None and 0.0 <= said <= self.max_wait else -1.0


def make_web_client(
    settings: Settings, *, retry_server_errors: bool = True, wait_out_rate_limits: bool = True
) -> WebClient:
    """A WebClient that waits out 429s (honouring Retry-After up to WAIT_MAX_S) and retries dropped
    connections and 5xx. Posts that must never repeat pass `retry_server_errors=False`: a
    5xx or a dropped connection can come after Slack has already posted, so their callers
    check before trying again. The App Home's client passes `wait_out_rate_limits=False`:
    waiting would put its few threads to sleep for everyone, so each 429 reaches the caller
    at once (`HomeService`)."""
    handlers: list[RetryHandler] = []
    if wait_out_rate_limits:
        handlers.append(BoundedRateLimitRetryHandler(max_retry_count=5))
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

"""Replies through a request's `response_url`. Bolt's `respond` sends once and returns whatever
Slack answered, so a 429 or an outage lost the reply without a word; here what Slack cannot have
acted on is sent again, and what still did not arrive is raised."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.error import URLError

from slack_bolt import Respond
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.slack.client import BoundedRateLimitRetryHandler

# The longest wait a reply's 429 is waited out for, each time. Past it, or when Slack's
# Retry-After is not a number of seconds, the reply is given up (and logged): slack_sdk's own
# handler slept whatever the header said (99999999 s), and raised on a negative one.
REPLY_WAIT_MAX_S = 30.0


class ReplyNotDelivered(Exception):
    """Slack did not take a reply, or may not have; sending the caller anything else would
    meet the same fate or come on top of it."""


class ReplyWithdrawn(ReplyNotDelivered):
    """The reply is no longer ours to send: forgotten, or answered by another process."""


# Whether the replies this thread sends are still ours to send: asked before each try, so a
# reply owed (`bot.slack.owed_replies`) that was forgotten or taken over meanwhile stops,
# even between the tries of a rate-limited one.
_still_ours: ContextVar[Callable[[], bool] | None] = ContextVar("still_ours", default=None)


@contextmanager
def sent_only_while(still_ours: Callable[[], bool]) -> Iterator[None]:
    """Within the block, this thread's replies are sent only while `still_ours()` says so;
    otherwise `reply` raises ReplyWithdrawn, unsent."""
    token = _still_ours.set(still_ours)
    try:
        yield
    finally:
        _still_ours.reset(token)


def _withdraw_unless_ours() -> None:
    still_ours = _still_ours.get()
    if still_ours is not None and not still_ours():
        raise ReplyWithdrawn("it was forgotten, or another process took it over; not sent")


class NeverSentRetryHandler(RetryHandler):
    """Retries a request that cannot have reached Slack: the connection was refused or the
    host's name did not resolve."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        reason = error.reason if isinstance(error, URLError) else None
        return response is None and isinstance(reason, ConnectionRefusedError | socket.gaierror)


def reply(respond: Respond, message: Mapping[str, Any], timeout: float) -> None:
    """Send `message` to the request's `response_url`. A 429 is waited out (up to
    REPLY_WAIT_MAX_S at a time) and a connection that never reached Slack is tried again; a
    5xx or a connection dropped after sending is tried again only for a reply that replaces
    or deletes the original, which done twice is done once. A new reply is never risked
    twice: the caller would see it twice. Within `sent_only_while`, a reply no longer ours
    is not sent (ReplyWithdrawn)."""
    if respond.response_url is None:
        raise ValueError("this request has no response_url to reply to")
    _withdraw_unless_ours()
    handlers: list[RetryHandler] = [
        BoundedRateLimitRetryHandler(5, REPLY_WAIT_MAX_S, after_wait=_withdraw_unless_ours),
        NeverSentRetryHandler(max_retry_count=3),
    ]
    if message.get("replace_original") or message.get("delete_original"):
        handlers += [ConnectionErrorRetryHandler(max_retry_count=3), ServerErrorRetryHandler(3)]
    client = WebhookClient(
        url=respond.response_url,
        timeout=timeout,  # type: ignore[arg-type]  # urlopen takes a float
        ssl=respond.ssl,
        proxy=respond.proxy,
        retry_handlers=handlers,
    )
    try:
        response = client.send(**message)
    except OSError as error:  # URLError, a timeout, a reset; never the URL, a secret
        raise ReplyNotDelivered(f"no answer from Slack to a reply: {error!r}") from None
    if response.status_code != 200:
        raise ReplyNotDelivered(
            f"Slack answered {response.status_code} to a reply: {response.body[:200]!r}"
        )

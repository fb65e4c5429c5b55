"""The one error handler, and the plain apology every failed listener sends."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import App, BoltResponse, Respond

from bot.services import Services
from bot.slack.replies import ReplyNotDelivered, ReplyWithdrawn, reply
from bot.slack.usage_service import UsageService
from storage.db import database_reason, unavailable

ERROR_TEXT = "Sorry, something went wrong on our side. Please try again in a minute."
log = logging.getLogger("aiusage.slack")


def register(app: App, usage: UsageService, services: Services) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        """Every listener's errors: logged in full, and the caller told, privately and in
        plain words, in the answer to their own request."""
        if not body.get("response_url"):
            log_failure(error)
            return None
        return BoltResponse(
            status=200,
            body=json.dumps(failure(error)),
            headers={"content-type": "application/json;charset=utf-8"},
        )


def failure(error: Exception) -> dict[str, Any]:
    """Log an error and say sorry to the caller: the message, as an ephemeral reply."""
    log_failure(error)
    return {"response_type": "ephemeral", "text": ERROR_TEXT, "replace_original": False}


def log_failure(error: Exception) -> None:
    """A database that could not serve (away, a lock or statement limit hit) in one line
    naming why, as the HTTP API logs it: no traceback for an outage, and none of what the
    driver adds after its first line (a COPY's row, which may hold an email). Any other
    error in full."""
    if unavailable(error):
        log.warning("slack request failed: database unavailable: %s", database_reason(error))
        return
    log.error("slack request failed: %r", error, exc_info=error)


@contextmanager
def caller_told_of_errors(respond: Respond, timeout: float, what: str) -> Iterator[None]:
    """For work after the ack, which nothing else would hear fail: the caller, acknowledged
    with nothing, is told through `response_url`, as `on_error` would tell them in the ack.
    A reply that did not arrive is logged, not followed by an apology that might."""
    try:
        yield
    except ReplyWithdrawn as error:
        log.info("the reply to %s is not sent: %s", what, error)
    except ReplyNotDelivered as error:
        log.warning("the reply to %s did not reach the caller: %s", what, error)
    except Exception as error:
        try:
            reply(respond, failure(error), timeout)
        except ReplyNotDelivered as not_told:
            log.warning("could not tell the caller that %s failed: %s", what, not_told)

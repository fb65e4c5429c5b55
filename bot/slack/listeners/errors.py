"""The one error handler, and the plain apology every failed listener sends."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import App, BoltResponse

from bot.services import Services
from bot.slack.usage_service import UsageService

ERROR_TEXT = "Sorry, something went wrong on our side. Please try again in a minute."
log = logging.getLogger("aiusage.slack")


def register(app: App, usage: UsageService, services: Services) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        """Every listener's errors: logged in full, and the caller told, privately and in
        plain words, in the answer to their own request."""
        if not body.get("response_url"):
            log.error("slack request failed: %r", error, exc_info=error)
            return None
        return BoltResponse(
            status=200,
            body=json.dumps(failure(error)),
            headers={"content-type": "application/json;charset=utf-8"},
        )


def failure(error: Exception) -> dict[str, Any]:
    """Log an error and say sorry to the caller: the message, as an ephemeral reply."""
    log.error("slack request failed: %r", error, exc_info=error)
    return {"response_type": "ephemeral", "text": ERROR_TEXT, "replace_original": False}

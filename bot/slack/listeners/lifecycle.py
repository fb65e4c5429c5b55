"""The events Slack sends every Events API app, subscribed or not: the app uninstalled from a
workspace, its tokens revoked. Each is acknowledged (Slack retries an unanswered event and
turns an app's events off when failures pile up) and told to the operator in one line, since
after either the bot token no longer works."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

log = logging.getLogger("aiusage.slack")


def register(app: App) -> None:
    @app.event("app_uninstalled")
    def uninstalled(body: dict[str, Any]) -> None:
        log.error(
            "Slack says the app was uninstalled from workspace %.20s: its bot token no longer "
            "works; reinstall the app and set the new SLACK_BOT_TOKEN",
            body.get("team_id"),
        )

    @app.event("tokens_revoked")
    def revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        tokens = event.get("tokens")
        if isinstance(tokens, dict) and tokens.get("bot"):
            log.error(
                "Slack revoked the bot token in workspace %.20s: Slack features fail until a new "
                "SLACK_BOT_TOKEN is set",
                body.get("team_id"),
            )
        else:
            # The app holds no user tokens, so nothing it uses is gone.
            log.info("Slack revoked user tokens in workspace %.20s", body.get("team_id"))

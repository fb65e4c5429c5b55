"""Bolt listeners, one module per kind, each with `register(app, usage, services)`."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from bot.slack.listeners import actions, commands, errors
from bot.slack.usage_service import UsageService


def register_listeners(app: App, usage: UsageService, services: Services) -> None:
    """The `/aiusage` command, the retirement buttons, and the one error handler."""
    for kind in (commands, actions, errors):
        kind.register(app, usage, services)

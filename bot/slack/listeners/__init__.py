"""Bolt listeners, one module per kind, each with `register`."""

from __future__ import annotations

from concurrent.futures import Executor

from slack_bolt import App
from slack_sdk import WebClient

from bot.services import Services
from bot.slack.home_service import HomeService
from bot.slack.listeners import actions, commands, errors, home, lifecycle
from bot.slack.owed_replies import OwedReplies
from bot.slack.usage_service import UsageService
from bot.slack.viewers import Callers


def register_listeners(
    app: App,
    usage: UsageService,
    services: Services,
    callers: Callers,
    executor: Executor,
    home_service: HomeService | None = None,
    owed: OwedReplies | None = None,
    *,
    later: WebClient,
) -> None:
    """The `/aiusage` command, the retirement buttons, the one error handler, the uninstall
    and token revocation events and, given a Home service, the App Home (refreshed after the
    commands that change its settings). Work after the ack runs on `executor`, which the app
    drains before it stops, asking Slack through `later`, whose 429s come back at once, the
    replies it owes recorded in `owed`. Each answers only the members of this workspace
    `callers` vouches for."""
    after_answer = home.refresh_home_after(home_service) if home_service is not None else None
    commands.register(app, usage, services, callers, executor, later, after_answer, owed)
    actions.register(app, usage, services, callers, later)
    errors.register(app, usage, services)
    lifecycle.register(app)
    if home_service is not None:
        home.register(app, home_service, callers, usage)

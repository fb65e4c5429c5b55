"""The `/aiusage` slash command.

Replies are answered in the command's own HTTP response (ephemeral by default, and testable
from the response) whenever we already know the caller. The first time we see someone, or when
what we know is a day old, we acknowledge at once, ask Slack who they are (`users.info`, for
their time zone), and answer through `response_url`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.services import Services
from bot.slack.answers import Viewer
from bot.slack.command_text import Org, Restore, parse_command
from bot.slack.command_text import Request as SlashRequest
from bot.slack.listeners.errors import failure
from bot.slack.usage_service import UsageService
from bot.slack.viewers import known_viewer, learn_viewer, profile_max_age
from bot.slack.views.render import render

COMMAND = "/aiusage"

# Called once a command has been answered, e.g. to refresh the caller's Home tab.
AfterAnswer = Callable[[SlashRequest, Viewer, WebClient], None]


def register(
    app: App, usage: UsageService, services: Services, after_answer: AfterAnswer | None = None
) -> None:
    answered = after_answer or (lambda _request, _viewer, _client: None)

    def answer_now(
        ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        request = parse_command(command.get("text") or "")
        user_id = command["user_id"]
        viewer = known_viewer(services, user_id, profile_max_age(services, request, user_id))
        if viewer is None or posts_to_slack(request):
            ack()  # `answer_later` asks Slack who this is, or does the slow part, then replies
            return
        context["aiusage_answered"] = True
        ack(**render(usage.answer(request, viewer)).as_kwargs())
        answered(request, viewer, client)

    def answer_later(
        command: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
    ) -> None:
        if context.get("aiusage_answered"):
            return
        try:
            request = parse_command(command.get("text") or "")
            user_id = command["user_id"]
            viewer = known_viewer(services, user_id, profile_max_age(services, request, user_id))
            viewer = viewer or learn_viewer(services, client, user_id)
            respond(**render(usage.answer(request, viewer)).as_kwargs())
            answered(request, viewer, client)
        except Exception as error:
            # Bolt only logs what a lazy listener raises; the caller, acknowledged with
            # nothing, would never hear back, so they are told here, as `on_error` would.
            respond(**failure(error))

    app.command(COMMAND)(ack=answer_now, lazy=[answer_later])


def posts_to_slack(request: SlashRequest) -> bool:
    """A request whose answer posts to channels, or sums a whole organisation's quarter,
    which can take longer than an ack may."""
    return isinstance(request, Org) or (isinstance(request, Restore) and bool(request.note))

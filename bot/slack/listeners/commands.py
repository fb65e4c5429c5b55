"""The `/aiusage` slash command.

Replies are answered in the command's own HTTP response (ephemeral by default, and testable
from the response) whenever we already know the caller. The first time we see someone, or when
what we know is a day old, we acknowledge at once, ask Slack who they are (`users.info`: a
member of this workspace? their time zone), and answer through `response_url`. A command
whose own payload names another workspace is refused at once. A `top` whose week has no
ranking yet (a restart before the warm-up is done, a new week) is answered through
`response_url` too: summing everyone's week can take longer than Slack waits for the ack.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import nullcontext
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.services import Services
from bot.slack.answers import NotAnswered, Viewer
from bot.slack.command_text import Badges, Me, Org, Restore, Top, parse_command
from bot.slack.command_text import Request as SlashRequest
from bot.slack.listeners.errors import caller_told_of_errors
from bot.slack.membership import command_team
from bot.slack.owed_replies import OwedReplies
from bot.slack.replies import reply
from bot.slack.usage_service import UsageService
from bot.slack.viewers import Callers, known_viewer, needs_rights, profile_max_age
from bot.slack.views.render import render
from storage.db import statement_limit

COMMAND = "/aiusage"
# How long one statement of an answer given in the ack may run on PostgreSQL: Slack shows the
# caller an error of its own when the ack takes 3 s, so the apology must leave before that.
# Above the lock timeout (2 s, `storage.engine`), so a held lock is named as what it is; the
# statements of an answer take milliseconds. Later answers have the request's longer limit.
ACK_STATEMENT_TIMEOUT_MS = 2_500
# Requests whose answer only reads: the viewer look-up and the answer share one transaction.
READS_ONLY = (Me, Top, Badges)
log = logging.getLogger("aiusage.slack")

# Called once a command has been answered, e.g. to refresh the caller's Home tab.
AfterAnswer = Callable[[SlashRequest, Viewer], None]


def register(
    app: App,
    usage: UsageService,
    services: Services,
    callers: Callers,
    executor: Executor,
    later: WebClient,
    after_answer: AfterAnswer | None = None,
    owed: OwedReplies | None = None,
) -> None:
    """`/aiusage`, answered in the ack when it can be, otherwise after it on `executor`
    (which the app drains before it stops), asking Slack through `later`, which hands its
    429s back rather than put the executor's threads to sleep; the reply owed is recorded
    in `owed` until sent."""
    answered = after_answer or (lambda _request, _viewer: None)
    owed = owed or OwedReplies(services)

    def answer_now(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        if callers.foreign(command_team(command)):
            ack(**render(NotAnswered("stranger")).as_kwargs())
            return
        request = parse_command(command.get("text") or "")
        user_id = command["user_id"]
        together = isinstance(request, READS_ONLY)
        with (
            statement_limit(ACK_STATEMENT_TIMEOUT_MS),
            services.db.reading_together() if together else nullcontext(),
        ):
            viewer = known_viewer(services, user_id, profile_max_age(services, request, user_id))
            # None also for a `top` whose week has no ranking yet: summing everyone's week
            # can outlast the ack, and is waited for after it, outside this transaction.
            answer = (
                None
                if viewer is None or posts_to_slack(request)
                else usage.answer_in_ack(request, viewer)
            )
        if viewer is None or answer is None:
            with statement_limit(ACK_STATEMENT_TIMEOUT_MS):
                owed_id = owed.owe(command, request)  # before the ack: a kill after finds it
            ack()
            # Not a Bolt lazy listener: Bolt deep-copies the request for one on every call,
            # answered or not, which cost more than the answer itself.
            executor.submit(owed.settled(owed_id, answer_later), request, user_id, respond, later)
            return
        ack(**render(answer).as_kwargs())
        answered(request, viewer)

    def answer_later(
        request: SlashRequest, user_id: str, respond: Respond, client: WebClient
    ) -> None:
        """Asks Slack who this is, or does the slow part, then replies."""
        timeout = services.settings.slack_timeout_seconds
        with caller_told_of_errors(respond, timeout, f"{user_id}'s command"):
            max_age = profile_max_age(services, request, user_id)
            viewer = callers.viewer(client, user_id, max_age, rights=needs_rights(request))
            if isinstance(viewer, NotAnswered):
                reply(respond, render(viewer).as_kwargs(), timeout)
                return
            reply(respond, render(usage.answer(request, viewer)).as_kwargs(), timeout)
            answered(request, viewer)

    app.command(COMMAND)(answer_now)
    # A reply whose process stopped before sending it is answered again the same way.
    owed.answer_with(
        lambda request, user_id, respond: answer_later(request, user_id, respond, later),
        callers.foreign,
    )


def posts_to_slack(request: SlashRequest) -> bool:
    """A request whose answer posts to channels, or sums a whole organisation's quarter,
    which can take longer than an ack may."""
    return isinstance(request, Org) or (isinstance(request, Restore) and bool(request.note))

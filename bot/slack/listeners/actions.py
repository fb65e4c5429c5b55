"""The confirm and cancel buttons: the retirement preview's and the forget preview's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.services import Services
from bot.slack.answers import Answer, ForgetCancelled, NotAnswered, Viewer
from bot.slack.listeners.errors import caller_told_of_errors
from bot.slack.membership import click_team
from bot.slack.replies import reply
from bot.slack.request import reply_url_problem
from bot.slack.usage_service import UsageService, actor
from bot.slack.viewers import Callers, admin_max_age
from bot.slack.views.admin import CANCEL_ACTION, CONFIRM_ACTION
from bot.slack.views.privacy import FORGET_CANCEL_ACTION, FORGET_CONFIRM_ACTION
from bot.slack.views.render import render
from jobs.admin_rules import Refused

log = logging.getLogger("aiusage.slack")


def register(
    app: App, usage: UsageService, services: Services, callers: Callers, later: WebClient
) -> None:
    """The buttons, answered after the ack; who clicked is asked of Slack through `later`,
    whose 429s come back at once. So do those of what a confirm then posts or edits: a
    rate-limited announcement or award-post edit stays owed, and the re-drive makes it."""

    def ack_click(ack: Ack) -> None:
        ack()  # Slack wants an answer within 3 s; the work, and the reply, come after

    def clicked(
        decide: Callable[[Viewer, int], Answer], rights: bool = False
    ) -> Callable[..., None]:
        def after_ack(body: dict[str, Any], respond: Respond) -> None:
            user_id = str((body.get("user") or {}).get("id"))
            # A click from a view passes the door (and Socket Mode's check) with no address
            # to answer at: these buttons' work is not done, since nobody could be told of it.
            if problem := reply_url_problem(body.get("response_url")):
                log.warning("a click by %.40s is not acted on: %s", user_id, problem)
                return
            timeout = services.settings.slack_timeout_seconds
            with caller_told_of_errors(respond, timeout, f"{user_id}'s click"):
                max_age = admin_max_age(services, user_id)
                team = click_team(body)
                viewer = callers.viewer(later, user_id, max_age, team, rights=rights)
                if isinstance(viewer, NotAnswered):
                    reply(respond, render(viewer).as_kwargs(), timeout)
                    return
                outcome = decide(viewer, button_value(body))
                # A refusal leaves the admin's preview alone; anything else replaces it, so
                # its buttons cannot be pressed again.
                keep = isinstance(outcome, Refused)
                replaces = {**render(outcome).as_kwargs(), "replace_original": not keep}
                reply(respond, replaces, timeout)

        return after_ack

    confirm = clicked(lambda viewer, rid: usage.admin.confirm_retire(actor(viewer), rid), True)
    cancel = clicked(lambda viewer, rid: usage.admin.cancel_retire(actor(viewer), rid), True)
    app.action(CONFIRM_ACTION)(ack=ack_click, lazy=[confirm])
    app.action(CANCEL_ACTION)(ack=ack_click, lazy=[cancel])
    # The forget buttons act on whoever clicks them, never on anyone the button names.
    forget = clicked(lambda viewer, _: usage.privacy.confirm(viewer.slack_user_id))
    keep = clicked(lambda _viewer, _: ForgetCancelled())
    app.action(FORGET_CONFIRM_ACTION)(ack=ack_click, lazy=[forget])
    app.action(FORGET_CANCEL_ACTION)(ack=ack_click, lazy=[keep])


def button_value(body: dict[str, Any]) -> int:
    """The pending retirement id a button carries; -1 (no such retirement) if mangled. Only
    ASCII digits: `isdigit` alone takes `²` (which `int` refuses) and `٣` (which it reads as 3)."""
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 18 else -1

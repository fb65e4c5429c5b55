"""Home tab listeners: publish on `app_home_opened`, and the settings buttons, each of which
re-publishes the tab. Slack is acknowledged first. Publishing is the Home's own queue's work
(`bot.slack.home_queue`), never the after-ack executor's: a button's change is made after the
ack, once per click, and its publish queued like an open."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.answers import NotAnswered, Viewer
from bot.slack.command_text import Digest, OptIn, OptOut
from bot.slack.command_text import Request as SlashRequest
from bot.slack.home_service import HomeService
from bot.slack.listeners.commands import AfterAnswer
from bot.slack.membership import click_team
from bot.slack.usage_service import UsageService, actor
from bot.slack.viewers import Callers, admin_max_age
from bot.slack.views.home import (
    DIGEST_OFF_ACTION,
    DIGEST_ON_ACTION,
    OPT_IN_ACTION,
    OPT_OUT_ACTION,
    ORG_ACTION,
)

log = logging.getLogger("aiusage.home")

ORG_NOTE = (
    ":bar_chart: The org view (cost and efficiency by tool and team, naming nobody): "
    "type `/aiusage org` or `/aiusage org TEAM` in any channel; only you see the answer."
)

Change = Callable[[Viewer], "str | None"]  # makes a button's change; returns the Home's note


def register(app: App, home: HomeService, callers: Callers, usage: UsageService) -> None:
    services = home.services

    def viewer_for(
        client: WebClient, user_id: str, team: tuple[object, object] = (None, None)
    ) -> Viewer | None:
        """The member whose Home this is; None for anyone else, who gets no Home at all."""
        found = callers.viewer(client, user_id, admin_max_age(services, user_id), team)
        return None if isinstance(found, NotAnswered) else found

    def just_ack(ack: Ack) -> None:
        ack()

    def opened(ack: Ack, event: dict[str, Any]) -> None:
        ack()
        if event.get("tab", "home") != "home":
            return  # the Messages tab: nothing to publish
        user = event["user"]
        # Who they are is looked up in their turn too: opens pile up as one, not as lookups.
        # With the Home's client: a rate-limited users.info must not put a Home thread to sleep.
        home.open(user, lambda home_client: viewer_for(home_client, user))

    app.event("app_home_opened")(opened)

    def on_click(change: Change) -> Callable[..., None]:
        def after_ack(body: dict[str, Any]) -> None:
            # The Home's client, as for an open: a rate-limited users.info comes back at once.
            viewer = viewer_for(home.client, body["user"]["id"], click_team(body))
            if viewer is None:
                return
            home.publish(viewer, change(viewer))

        return after_ack

    def opt(opted_out: bool) -> Change:
        def change(v: Viewer) -> None:
            usage.opt(v, opted_out=opted_out)  # as `/aiusage optin` does: lifts a forget too

        return change

    def digest(on: bool) -> Change:
        def change(v: Viewer) -> None:
            home.set_digest(v, on)

        return change

    def org(v: Viewer) -> str | None:
        # The org view is for admins and insight viewers; others get their Home back as is.
        return ORG_NOTE if home.admin.allowed(actor(v)) else None

    for action_id, change in (
        (OPT_OUT_ACTION, opt(True)),
        (OPT_IN_ACTION, opt(False)),
        (DIGEST_ON_ACTION, digest(True)),
        (DIGEST_OFF_ACTION, digest(False)),
        (ORG_ACTION, org),
    ):
        app.action(action_id)(ack=just_ack, lazy=[on_click(change)])


def refresh_home_after(home: HomeService) -> AfterAnswer:
    """After `/aiusage optout|optin|digest on|off`, the caller's Home tab shows the new
    setting too: queued on the Home's own pool, so the command's answer is not held up."""

    def after(request: SlashRequest, viewer: Viewer) -> None:
        if isinstance(request, OptOut | OptIn | Digest):
            home.publish(viewer)

    return after

"""Home tab listeners: publish on `app_home_opened`, and the settings buttons, each of which
re-publishes the tab. Slack is acknowledged first; the work runs after the ack."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.answers import NotAnswered, Viewer
from bot.slack.command_text import Digest, OptIn, OptOut
from bot.slack.command_text import Request as SlashRequest
from bot.slack.home_service import HomeService
from bot.slack.listeners.commands import AfterAnswer
from bot.slack.membership import click_team
from bot.slack.usage_service import actor
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

Change = Callable[[HomeService, Viewer], "tuple[Viewer, str | None]"]


def register(app: App, home: HomeService, callers: Callers) -> None:
    services = home.services

    def viewer_for(
        client: WebClient, user_id: str, team: tuple[object, object] = (None, None)
    ) -> Viewer | None:
        """The member whose Home this is; None for anyone else, who gets no Home at all."""
        found = callers.viewer(client, user_id, admin_max_age(services, user_id), team)
        return None if isinstance(found, NotAnswered) else found

    def just_ack(ack: Ack) -> None:
        ack()

    def opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab: nothing to publish
        if viewer := viewer_for(client, event["user"]):
            home.publish(client, viewer)

    app.event("app_home_opened")(ack=just_ack, lazy=[opened])

    def on_click(change: Change) -> Callable[..., None]:
        def after_ack(body: dict[str, Any], client: WebClient) -> None:
            viewer = viewer_for(client, body["user"]["id"], click_team(body))
            if viewer is None:
                return
            viewer, note = change(home, viewer)
            home.publish(client, viewer, note)

        return after_ack

    def opt(opted_out: bool) -> Change:
        return lambda h, v: (h.set_opted_out(v, opted_out), None)

    def digest(on: bool) -> Change:
        def change(h: HomeService, v: Viewer) -> tuple[Viewer, str | None]:
            h.set_digest(v, on)
            return v, None

        return change

    def org(h: HomeService, v: Viewer) -> tuple[Viewer, str | None]:
        # The org view is for admins and insight viewers; others get their Home back as is.
        return v, ORG_NOTE if h.admin.allowed(actor(v)) else None

    for action_id, change in (
        (OPT_OUT_ACTION, opt(True)),
        (OPT_IN_ACTION, opt(False)),
        (DIGEST_ON_ACTION, digest(True)),
        (DIGEST_OFF_ACTION, digest(False)),
        (ORG_ACTION, org),
    ):
        app.action(action_id)(ack=just_ack, lazy=[on_click(change)])


def refresh_home_after(home: HomeService, executor: Executor) -> AfterAnswer:
    """After `/aiusage optout|optin|digest on|off`, the caller's Home tab shows the new
    setting too; published on `executor`, so the command's answer is not held up, and a
    stopping app finishes it before its database goes (a thread of its own would not be)."""

    def after(request: SlashRequest, viewer: Viewer, client: WebClient) -> None:
        if not isinstance(request, OptOut | OptIn | Digest):
            return

        def refresh() -> None:
            try:
                home.publish(client, viewer)
            except Exception:
                log.exception("refreshing the Home tab of %s failed", viewer.slack_user_id)

        executor.submit(refresh)

    return after

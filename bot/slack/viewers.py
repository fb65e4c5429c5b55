"""Who is asking: the caller as we know them, or as Slack tells us (`users.info`)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.slack.answers import Viewer, viewer_from
from bot.slack.client import says_workspace_admin
from bot.slack.command_text import Org, Restore, Retire, Status
from bot.slack.command_text import Request as SlashRequest
from storage import bounds
from storage.people import find_slack_profile, link_email, save_slack_profile, slack_profile

# How long what users.info told us (time zone, name, admin) is trusted before asking again.
PROFILE_MAX_AGE = timedelta(hours=24)
# Whether someone is a workspace admin is trusted for much less long: a demoted admin should
# lose admin commands within minutes.
ADMIN_CHECK_MAX_AGE = timedelta(minutes=5)
log = logging.getLogger("aiusage.slack")


def admin_max_age(services: Services, slack_user_id: str) -> timedelta:
    """How old what Slack said about this user may be for an admin check: only a configured
    admin does not depend on it."""
    settings = services.settings
    if settings.workspace_admins and slack_user_id not in settings.admins:
        return ADMIN_CHECK_MAX_AGE
    return PROFILE_MAX_AGE


def profile_max_age(services: Services, request: SlashRequest, slack_user_id: str) -> timedelta:
    if isinstance(request, Retire | Restore | Status | Org):
        return admin_max_age(services, slack_user_id)
    return PROFILE_MAX_AGE


def known_viewer(
    services: Services, slack_user_id: str, max_age: timedelta = PROFILE_MAX_AGE
) -> Viewer | None:
    """The caller as we know them, or None when Slack should be asked first (never asked,
    or asked longer than `max_age` ago)."""
    profile = find_slack_profile(services.db, slack_user_id)
    if profile is None or profile.checked_at is None:
        return None
    if services.clock() - profile.checked_at > max_age:
        return None
    return viewer_from(profile, services.settings.timezone)


def learn_viewer(services: Services, client: WebClient, slack_user_id: str) -> Viewer:
    """Ask Slack about the caller (users.info) and store it. If Slack cannot say, answer
    anyway in the configured zone and ask again next time."""
    now = services.clock()
    try:
        user = client.users_info(user=slack_user_id)["user"]
    except (SlackApiError, OSError) as exc:  # an error answer, or no answer after retries
        log.warning("users.info for %s failed: %r", slack_user_id, exc)
        known = viewer_from(
            slack_profile(services.db, slack_user_id, now), services.settings.timezone
        )
        # What Slack said about admin rights earlier is not trusted when it cannot say now.
        return replace(known, is_workspace_admin=False)
    profile = user.get("profile")
    profile = profile if isinstance(profile, dict) else {}
    # What Slack says is held to what the columns take (`storage.bounds`): a value they
    # refused left the profile unsaved, and every command of that person failed for good.
    names = (profile.get("display_name"), profile.get("real_name"), user.get("name"))
    saved = save_slack_profile(
        services.db,
        slack_user_id,
        display_name=next(filter(None, map(bounds.display_name, names)), None),
        tz=bounds.zone_name(user.get("tz")),
        is_workspace_admin=says_workspace_admin(user),
        now=now,
    )
    # Slack's own profile email, held to the rule every door keeps (`storage.bounds`). Usage
    # reported under it counts from this answer on, not from the next matching pass.
    email = _valid_email(profile.get("email"))
    if email is not None and not user.get("is_bot"):
        link_email(services.db, email, slack_user_id, now)
    return viewer_from(saved, services.settings.timezone)


def _valid_email(value: object) -> str | None:
    """A profile email that may be a link key, or None (missing, oversized, not an address)."""
    try:
        return bounds.email(str(value or ""))
    except bounds.OutOfBounds:
        return None

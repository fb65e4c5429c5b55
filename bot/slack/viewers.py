"""Who is asking: the caller as we know them, or as Slack tells us (`users.info`)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.slack import membership
from bot.slack.answers import NotAnswered, Viewer, viewer_from
from bot.slack.command_text import Org, Restore, Retire, Status
from bot.slack.command_text import Request as SlashRequest
from bot.slack.membership import Workspace
from bot.slack.rate_limits import OncePer, rate_limited, retry_after, short_wait
from storage import bounds
from storage.lru import BoundedCache
from storage.people import link_email
from storage.profiles import find_slack_profile, save_slack_profile

# How long what users.info told us (time zone, name, admin) is trusted before asking again.
PROFILE_MAX_AGE = timedelta(hours=24)
# Whether someone is a workspace admin is trusted for much less long: a demoted admin should
# lose admin commands within minutes.
ADMIN_CHECK_MAX_AGE = timedelta(minutes=5)
# users.info errors that say there is no such user for us: a stranger, not a failure.
NO_SUCH_USER = frozenset({"user_not_found", "user_not_visible"})
# Strangers refused lately, by Slack user ID, kept this long: one asking again and again
# is answered from here, and one who has just joined the workspace waits at most this.
REFUSALS_KEPT = 10_000
REFUSAL_KEPT_S = 300.0
log = logging.getLogger("aiusage.slack")


def admin_max_age(services: Services, slack_user_id: str) -> timedelta:
    """How old what Slack said about this user may be for an admin check: only a configured
    admin does not depend on it."""
    settings = services.settings
    if settings.workspace_admins and slack_user_id not in settings.admins:
        return ADMIN_CHECK_MAX_AGE
    return PROFILE_MAX_AGE


def needs_rights(request: SlashRequest) -> bool:
    """Whether answering `request` depends on the caller being an admin (or insight viewer)."""
    return isinstance(request, Retire | Restore | Status | Org)


def profile_max_age(services: Services, request: SlashRequest, slack_user_id: str) -> timedelta:
    if needs_rights(request):
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


class Callers:
    """Who is asking, and whether they are answered at all: only members of the workspace
    the bot token belongs to (`bot.slack.membership`). Nothing is stored about anyone else,
    and a refusal is remembered a while, so a stranger repeating a command is not looked
    up in Slack each time."""

    def __init__(self, services: Services, ours: Callable[[float], Workspace | None]) -> None:
        self.services = services
        self.ours = ours  # waits up to the given seconds for auth.test's answer
        self._refused: BoundedCache[str, float] = BoundedCache(REFUSALS_KEPT)
        self._limited = OncePer()

    def foreign(self, team: tuple[object, object]) -> bool:
        """Whether a request's own (team, org) is another workspace's: answered at once,
        without asking Slack. Unsure (no team in it, or ours not known yet) is not foreign;
        `users.info` decides then."""
        ours = self.ours(0.0)
        team_id, enterprise_id = team
        if ours is None or (team_id is None and enterprise_id is None):
            return False
        return not ours.holds(team_id, enterprise_id)

    def viewer(
        self,
        client: WebClient,
        slack_user_id: str,
        max_age: timedelta = PROFILE_MAX_AGE,
        team: tuple[object, object] = (None, None),
        *,
        rights: bool = False,
    ) -> Viewer | NotAnswered:
        """The caller as we know them, or as Slack tells us now; `team` is the (team, org)
        the request itself says they are in, when it says; `rights`: whether the answer
        depends on their being an admin."""
        if self.foreign(team):
            return NotAnswered("stranger")
        known = known_viewer(self.services, slack_user_id, max_age)
        return known or self.learn(client, slack_user_id, rights=rights)

    def learn(
        self, client: WebClient, slack_user_id: str, *, rights: bool = False
    ) -> Viewer | NotAnswered:
        """Ask Slack about the caller (users.info) and store them if they are a member. A 429
        is waited out only when Slack asks for a short wait (`short_wait`), once, and only by
        a caller with nothing else to be answered with; everyone else is answered at once."""
        refused_until = self._refused.get(slack_user_id)
        if refused_until is not None and time.monotonic() < refused_until:
            return NotAnswered("stranger")
        ours = self.ours(self.services.settings.slack_timeout_seconds)
        if ours is None:
            return self._unsure(slack_user_id, "auth.test has not said which workspace is ours")
        now = self.services.clock()
        waited = False
        while True:
            try:
                user = client.users_info(user=slack_user_id)["user"]
                break
            except SlackApiError as exc:
                if exc.response.get("error") in NO_SUCH_USER:
                    return self._refuse(slack_user_id)
                if not rate_limited(exc):
                    return self._unsure(slack_user_id, repr(exc))
                # Handed back by the clients of the Home and of the work after the ack, so
                # no thread of theirs sleeps out Slack's Retry-After.
                instead = self._rate_limited(slack_user_id, exc, rights)
                wait = short_wait(exc)
                if isinstance(instead, Viewer) or waited or wait is None:
                    return instead
                waited = True
                time.sleep(wait)
            except OSError as exc:  # no answer after the client's retries
                return self._unsure(slack_user_id, repr(exc))
        standing = membership.standing(user, ours) if isinstance(user, Mapping) else "stranger"
        if standing == "stranger":
            return self._refuse(slack_user_id)
        profile = user.get("profile")
        profile = profile if isinstance(profile, dict) else {}
        # What Slack says is held to what the columns take (`storage.bounds`): a value they
        # refused left the profile unsaved, and every command of that person failed for good.
        names = (profile.get("display_name"), profile.get("real_name"), user.get("name"))
        saved = save_slack_profile(
            self.services.db,
            slack_user_id,
            display_name=next(filter(None, map(bounds.display_name, names)), None),
            tz=bounds.zone_name(user.get("tz")),
            is_workspace_admin=membership.says_workspace_admin(user, ours),
            is_guest=standing == "guest",
            now=now,
        )
        # Slack's own profile email, held to the rule every door keeps (`storage.bounds`).
        # Usage reported under it counts from this answer on, not from the next matching pass.
        email = _valid_email(profile.get("email"))
        if email is not None:
            link_email(self.services.db, email, slack_user_id, now)
        return viewer_from(saved, self.services.settings.timezone)

    def _refuse(self, slack_user_id: str) -> NotAnswered:
        log.info("%s is not a member of this workspace: not answered", slack_user_id)
        self._refused[slack_user_id] = time.monotonic() + REFUSAL_KEPT_S
        return NotAnswered("stranger")

    def _unsure(self, slack_user_id: str, why: str) -> Viewer | NotAnswered:
        """Slack cannot say now: someone it vouched for before is answered from what is
        stored; anyone else is asked to try again, and nothing is stored."""
        log.warning("could not check who %s is: %s", slack_user_id, why)
        return self._as_last_known(slack_user_id)

    def _rate_limited(
        self, slack_user_id: str, exc: SlackApiError, rights: bool
    ) -> Viewer | NotAnswered:
        """Slack asked us to wait: someone it vouched for before is answered from what is
        stored, unless the answer turns on admin rights only Slack grants them; anyone
        else is told Slack is busy, and when to try again."""
        # Opens and commands may come by the dozen: one line a minute, not one a caller.
        if self._limited.due("users.info"):
            log.warning("Slack rate limited users.info: callers taken as last known")
        busy = NotAnswered("busy", math.ceil(retry_after(exc)))
        profile = find_slack_profile(self.services.db, slack_user_id)
        if profile is None or profile.checked_at is None:
            return busy
        settings = self.services.settings
        by_slack = profile.is_workspace_admin and settings.workspace_admins
        if rights and by_slack and slack_user_id not in settings.admins:
            return busy  # they may be an admin still: refusing them would be a guess
        return self._as_last_known(slack_user_id)

    def _as_last_known(self, slack_user_id: str) -> Viewer | NotAnswered:
        profile = find_slack_profile(self.services.db, slack_user_id)
        if profile is None or profile.checked_at is None:
            return NotAnswered("unverified")
        known = viewer_from(profile, self.services.settings.timezone)
        # What Slack said about admin rights earlier is not trusted when it cannot say now.
        return replace(known, is_workspace_admin=False)


def _valid_email(value: object) -> str | None:
    """A profile email that may be a link key, or None (missing, oversized, not an address)."""
    try:
        return bounds.email(str(value or ""))
    except bounds.OutOfBounds:
        return None

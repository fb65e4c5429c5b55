"""Matching emails from usage events to Slack users, with `users.lookupByEmail`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client
from storage.people import link_email, note_lookup_attempt, unlinked_emails

# An email Slack did not know is asked about again after this long: people join, and
# change the address on their profile.
LOOKUP_RETRY_AFTER = timedelta(hours=1)

log = logging.getLogger("aiusage.identity")


@dataclass
class Resolution:
    """What one pass found: emails matched to a Slack user, emails Slack does not know,
    and whether the pass stopped early because Slack kept rate-limiting it."""

    matched: dict[str, str] = field(default_factory=dict)  # email -> Slack user ID
    unknown: list[str] = field(default_factory=list)
    rate_limited: bool = False


def resolve_unmatched_emails(
    services: Services, client: WebClient | None = None, limit: int = 200
) -> Resolution:
    """One pass over emails no Slack user has yet (those not tried in the last hour). A match
    links the email, so all its past and future usage counts as that person's. Call it
    periodically; the client's retry handlers wait out 429s, and if Slack still refuses the
    pass stops and the rest wait for the next one."""
    client = client or make_web_client(services.settings)
    now = services.clock()
    found = Resolution()
    for email in unlinked_emails(services.db, limit, attempted_before=now - LOOKUP_RETRY_AFTER):
        try:
            user = client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as exc:
            if exc.response.status_code == 429 or exc.response.get("error") == "ratelimited":
                found.rate_limited = True
                break
            if exc.response.get("error") != "users_not_found":
                log.warning("users.lookupByEmail failed: %s", exc.response.get("error"))
            note_lookup_attempt(services.db, email, now)
            found.unknown.append(email)
            continue
        if user.get("deleted") or user.get("is_bot"):
            note_lookup_attempt(services.db, email, now)
            found.unknown.append(email)
            continue
        link_email(services.db, email, user["id"], now)
        found.matched[email] = user["id"]
    return found


def email_lookup(settings: Settings) -> Callable[[str], str | None] | None:
    """Slack's `users.lookupByEmail` as a plain function (a Slack user ID, or None for an
    unknown, deleted or bot user), when a bot token is set; None otherwise."""
    if settings.slack_bot_token is None:
        return None
    client = make_web_client(settings)

    def lookup(email: str) -> str | None:
        try:
            user = client.users_lookupByEmail(email=email)["user"]
        except SlackApiError:
            return None
        return None if user.get("deleted") or user.get("is_bot") else user["id"]

    return lookup

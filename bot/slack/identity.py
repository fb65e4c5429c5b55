"""Matching emails from usage events to Slack users, with `users.lookupByEmail`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from http.client import HTTPException

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client
from storage.people import link_email, note_lookup_attempt, unlinked_emails

# An email Slack did not know is asked about again after this long: people join, and
# change the address on their profile.
LOOKUP_RETRY_AFTER = timedelta(hours=1)
# Lookups in a row that could not reach Slack (no connection, no answer in time) after which a
# pass stops: Slack is away, and the rest of the emails would each spend a timeout and the
# client's retries for nothing. One email's failure alone holds back none after it.
UNREACHED_IN_A_ROW = 3

log = logging.getLogger("aiusage.identity")


@dataclass
class Resolution:
    """What one pass found: emails matched to a Slack user, emails Slack does not know,
    emails whose lookup never reached Slack (asked again at the next pass), and whether the
    pass stopped early because Slack kept rate-limiting it or could not be reached."""

    matched: dict[str, str] = field(default_factory=dict)  # email -> Slack user ID
    unknown: list[str] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)
    rate_limited: bool = False
    slack_away: bool = False


def resolve_unmatched_emails(
    services: Services, client: WebClient | None = None, limit: int = 200
) -> Resolution:
    """One pass over emails no Slack user has yet (those not tried in the last hour). A match
    links the email, so all its past and future usage counts as that person's. Call it
    periodically; the client's retry handlers wait out 429s, and if Slack still refuses the
    pass stops and the rest wait for the next one. An email whose lookup cannot reach Slack
    is skipped and asked again next pass; UNREACHED_IN_A_ROW of them in a row stop it."""
    client = client or make_web_client(services.settings)
    now = services.clock()
    found = Resolution()
    unreached_in_a_row = 0
    for email in unlinked_emails(services.db, limit, attempted_before=now - LOOKUP_RETRY_AFTER):
        try:
            user = client.users_lookupByEmail(email=email)["user"]
        except OSError as exc:  # URLError, a dropped connection, a timeout: after the retries
            # Not the email: the log is no place for it. Its attempt is put as long ago as
            # the retry wait, so it is due again at the next pass but comes after the emails
            # never tried: a few that always fail cannot hold the others back, pass after pass.
            log.warning("users.lookupByEmail could not reach Slack: %r", exc)
            note_lookup_attempt(services.db, email, now - LOOKUP_RETRY_AFTER)
            found.unreached.append(email)
            unreached_in_a_row += 1
            if unreached_in_a_row >= UNREACHED_IN_A_ROW:
                log.warning(
                    "%d email lookups in a row could not reach Slack; matching emails again at "
                    "the next pass",
                    unreached_in_a_row,
                )
                found.slack_away = True
                break
            continue
        except SlackApiError as exc:
            if exc.response.status_code == 429 or exc.response.get("error") == "ratelimited":
                found.rate_limited = True
                break
            if exc.response.get("error") != "users_not_found":
                log.warning("users.lookupByEmail failed: %s", exc.response.get("error"))
            user = None
        unreached_in_a_row = 0  # Slack answered
        if user is None or user.get("deleted") or user.get("is_bot"):
            note_lookup_attempt(services.db, email, now)
            found.unknown.append(email)
            continue
        link_email(services.db, email, user["id"], now)
        found.matched[email] = user["id"]
    return found


class SlackUnanswered(Exception):
    """Slack could not be asked (no connection, no answer in time, a 5xx) or kept
    rate-limiting, through the client's retries: the answer is not known, not "nobody"."""

    def __init__(self, email: str, reason: str) -> None:
        super().__init__(reason)
        self.email = email


def email_lookup(settings: Settings) -> Callable[[str], str | None] | None:
    """Slack's `users.lookupByEmail` as a plain function (a Slack user ID, or None for an
    unknown, deleted or bot user), when a bot token is set; None otherwise. It raises
    SlackUnanswered when Slack gave no answer, so a caller never takes that for "unknown"."""
    if settings.slack_bot_token is None:
        return None
    client = make_web_client(settings)

    def lookup(email: str) -> str | None:
        try:
            user = client.users_lookupByEmail(email=email)["user"]
        except (OSError, HTTPException) as exc:  # URLError, a drop, a timeout: after retries
            raise SlackUnanswered(email, f"no answer from Slack ({exc!r})") from None
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429 or exc.response.get("error") == "ratelimited":
                raise SlackUnanswered(email, "Slack kept rate-limiting the look-ups") from None
            if status >= 500:
                raise SlackUnanswered(email, f"Slack answered HTTP {status}") from None
            return None
        return None if user.get("deleted") or user.get("is_bot") else user["id"]

    return lookup

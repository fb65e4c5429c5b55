"""Matching emails from usage events to Slack users, with `users.lookupByEmail`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.client import HTTPException
from typing import Literal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.services import Services
from bot.settings import Settings
from bot.slack.client import make_web_client
from bot.slack.slack_errors import SLACK_TROUBLE, TOKEN_REFUSED, refusal
from storage.people import link_email, note_lookup_attempt, unlinked_emails

# An email Slack did not know is asked about again after this long: people join, and
# change the address on their profile.
LOOKUP_RETRY_AFTER = timedelta(hours=1)
# Lookups in a row that could not reach Slack (no connection, no answer in time) after which a
# pass stops: Slack is away, and the rest of the emails would each spend a timeout and the
# client's retries for nothing. One email's failure alone holds back none after it.
UNREACHED_IN_A_ROW = 3
# The one answer that says Slack has no such person. (A deleted or bot user is none of ours
# either; that is read from the user Slack answers with.)
NO_SUCH_PERSON = "users_not_found"
SCOPE = "users:read.email"  # what users.lookupByEmail needs, named when Slack does not say

# While Slack refuses our token, each distinct refusal is logged at most this often: the pass
# runs every minute, and the line says nothing new until the refusal changes or ends.
REFUSAL_LOG_EVERY = timedelta(hours=1)

Answer = Literal["nobody", "rate_limited", "unanswered", "refused", "unexpected"]

log = logging.getLogger("aiusage.identity")


def answer_of(exc: SlackApiError) -> Answer:
    """What Slack's error on a lookup says: no such person, a rate limit, Slack's own trouble
    (a 5xx through the retries), a refusal of our token or app, or an error not known here."""
    error = exc.response.get("error")
    if exc.response.status_code == 429 or error == "ratelimited":
        return "rate_limited"
    if exc.response.status_code >= 500 or error in SLACK_TROUBLE:
        return "unanswered"
    if error == NO_SUCH_PERSON:
        return "nobody"
    return "refused" if error in TOKEN_REFUSED else "unexpected"


@dataclass
class Resolution:
    """What one pass found: emails matched to a Slack user, emails Slack does not know,
    emails whose lookup got no answer about the person (asked again at the next pass), and
    whether the pass stopped early because Slack kept rate-limiting it, could not be
    reached, or refused our token or app (`refused`: Slack's error)."""

    matched: dict[str, str] = field(default_factory=dict)  # email -> Slack user ID
    unknown: list[str] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)
    rate_limited: bool = False
    slack_away: bool = False
    refused: str | None = None


@dataclass
class RefusalLog:
    """Which refusals of our token were logged when, kept across passes by whoever runs
    them (the scheduler's job): each distinct error once per REFUSAL_LOG_EVERY while it
    lasts, and its end once."""

    every: timedelta = REFUSAL_LOG_EVERY
    said: dict[str, datetime] = field(default_factory=dict)

    def worth_saying(self, error: str, now: datetime) -> bool:
        last = self.said.get(error)
        if last is not None and now - last < self.every:
            return False
        self.said[error] = now
        return True

    def ended(self) -> list[str]:
        """The refusals said since Slack last answered a lookup (now over), oldest first."""
        over = sorted(self.said, key=self.said.__getitem__)
        self.said.clear()
        return over


def resolve_unmatched_emails(
    services: Services,
    client: WebClient | None = None,
    limit: int = 200,
    refusals: RefusalLog | None = None,
) -> Resolution:
    """One pass over emails no Slack user has yet (those not tried in the last hour). A match
    links the email, so all its past and future usage counts as that person's. Call it
    periodically; the client's retry handlers wait out 429s, and if Slack still refuses the
    pass stops and the rest wait for the next one, as they do when Slack refuses our token.
    An email Slack gives no answer about is asked again next pass; UNREACHED_IN_A_ROW of them
    in a row stop it. With `refusals`, a lasting refusal of our token is logged hourly, not
    at every pass."""
    client = client or make_web_client(services.settings)
    now = services.clock()
    found = Resolution()
    unreached_in_a_row = 0
    for email in unlinked_emails(services.db, limit, attempted_before=now - LOOKUP_RETRY_AFTER):
        user = None
        try:
            user = client.users_lookupByEmail(email=email)["user"]
            answered = True
        except OSError as exc:  # URLError, a dropped connection, a timeout: after the retries
            log.warning("users.lookupByEmail could not reach Slack: %r", exc)
            answered = False
        except SlackApiError as exc:
            answer = answer_of(exc)
            if answer == "rate_limited":
                found.rate_limited = True
                break
            if answer == "refused":
                # Our token's trouble, not the emails': none is put by as unknown, so the
                # first pass after it is put right matches them all. One line a pass.
                found.refused = str(exc.response.get("error"))
                if refusals is None or refusals.worth_saying(found.refused, now):
                    log.warning(
                        "users.lookupByEmail refused: %s; no email is matched until it is put "
                        "right, and none is put by as unknown",
                        refusal(exc, SCOPE),
                    )
                break
            answered = answer == "nobody"
            if not answered:  # a 5xx through the retries, or an error not known here
                why = refusal(exc, SCOPE)
                log.warning("users.lookupByEmail got no answer about an email: %s", why)
        if not answered:
            # Not the email: the log is no place for it. Its attempt is put as long ago as
            # the retry wait, so it is due again at the next pass but comes after the emails
            # never tried: a few that always fail cannot hold the others back, pass after pass.
            note_lookup_attempt(services.db, email, now - LOOKUP_RETRY_AFTER)
            found.unreached.append(email)
            unreached_in_a_row += 1
            if unreached_in_a_row >= UNREACHED_IN_A_ROW:
                log.warning(
                    "%d email lookups in a row got no answer from Slack; matching emails "
                    "again at the next pass",
                    unreached_in_a_row,
                )
                found.slack_away = True
                break
            continue
        unreached_in_a_row = 0  # Slack answered
        if refusals is not None and (over := refusals.ended()):
            log.info("users.lookupByEmail answered again after refusing: %s", ", ".join(over))
        if user is None or user.get("deleted") or user.get("is_bot"):
            note_lookup_attempt(services.db, email, now)
            found.unknown.append(email)
            continue
        link_email(services.db, email, user["id"], now)
        found.matched[email] = user["id"]
    return found


class LookupFailed(Exception):
    """A lookup whose answer is not known: the email may well be a Slack user's."""

    what = "Slack could not be asked about"

    def __init__(self, email: str, reason: str) -> None:
        super().__init__(reason)
        self.email = email

    def line(self) -> str:
        return f"{self.what} {self.email!r}: {self}"


class SlackUnanswered(LookupFailed):
    """Slack could not be asked (no connection, no answer in time, a 5xx) or kept
    rate-limiting, through the client's retries: the answer is not known, not "nobody"."""


class SlackRefused(LookupFailed):
    """Slack refused the lookup for our token or app (a scope missing, the token revoked...),
    or with an error not known here: nothing said about the email, and the next would fare
    the same until it is put right."""

    what = "Slack refused the look-up of"


def email_lookup(settings: Settings) -> Callable[[str], str | None] | None:
    """Slack's `users.lookupByEmail` as a plain function (a Slack user ID, or None for an
    unknown, deleted or bot user), when a bot token is set; None otherwise. It raises
    LookupFailed when Slack gave no answer about the email, so a caller never takes that
    for "unknown"."""
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
            answer = answer_of(exc)
            if answer == "nobody":
                return None
            if answer == "rate_limited":
                raise SlackUnanswered(email, "Slack kept rate-limiting the look-ups") from None
            if answer == "unanswered":
                said = f"HTTP {status}" if status >= 500 else exc.response.get("error")
                raise SlackUnanswered(email, f"Slack answered {said}") from None
            # Stopping loses nothing: an error not known here is taken as a refusal too.
            raise SlackRefused(email, refusal(exc, SCOPE)) from None
        return None if user.get("deleted") or user.get("is_bot") else user["id"]

    return lookup

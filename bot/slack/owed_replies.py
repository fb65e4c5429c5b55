"""Replies owed after an empty ack, kept in the database so that a `serve` killed between
the ack and the reply still answers. The row is written before the ack; the worker that
replies deletes it; the re-drive answers rows whose holder stopped, through the same path
as the worker, while Slack still takes replies at their `response_url` (30 minutes).

The lease: a worker holds its row from the moment it starts for 15 times
AIUSAGE_SLACK_TIMEOUT_SECONDS (150 s by default, at most 10 minutes), and renews it every
quarter of that while it works (the re-drive too, for each row it answers): slow `users.info`
calls and a reply Slack rate-limits (up to five waits of 30 s) can outlast any lease short
enough to wait out for a dead holder. A holder that dies stops renewing, so a row past its
lease has no live holder, and is answered again one lease after its last renewal. A renewal
that finds the row gone (forgotten) or another's withdraws the reply: not sent, or not tried
again after a 429's wait.

The fence: the re-drive claims under a name of its own and, once it answered, keeps the row
marked answered until Slack's 30 minutes are over; right before each try of a reply (and
after each 429's wait) its holder renews once more, and withdraws it if the row is another's
or answered. A holder frozen past its lease (SIGSTOP, a long pause) so sends nothing the
re-drive answered, though its heartbeat has not beaten since. A row gone at that moment was
forgotten: the reply is still sent unless a beat found it gone while the reply was under way,
as a command that waited on its own forget is answered as one that came after it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ParamSpec

from slack_bolt import Respond

from bot.services import Services
from bot.slack.answers import NotAnswered
from bot.slack.command_text import Digest, OptIn, OptOut, Restore, parse_command
from bot.slack.command_text import Request as SlashRequest
from bot.slack.replies import ReplyNotDelivered, reply, sent_only_while
from bot.slack.views.render import render
from jobs.heartbeat import heartbeat
from jobs.replicas import holder_name
from jobs.retention import OWED_REPLY_MINUTES
from storage.bounds import SLACK_USER_ID
from storage.db import UNAVAILABLE, database_reason
from storage.owed_replies import (
    abandoned_replies,
    claim_reply,
    drop_born_before,
    mark_answered,
    owe_reply,
    renew,
    renewed_holder,
    settle,
)

log = logging.getLogger("aiusage.slack")

URL_LIFETIME = timedelta(minutes=OWED_REPLY_MINUTES)  # Slack's, for a response_url
LEASE_TIMEOUTS = 15
MAX_LEASE = timedelta(minutes=10)
MAX_TEXT = 4_000  # Slack passes about 4,000 characters; longer is no command anyone typed
MAX_URL = 2_000
MAX_TEAM = 32

P = ParamSpec("P")
# Answers one request after the ack: the command listener's own `answer_later`.
AnswerLater = Callable[[SlashRequest, str, Respond], None]


def redrivable(request: SlashRequest) -> bool:
    """Whether answering the request again can repeat nothing. What only reads can; so can
    `retire`, whose preview acts only once its button is pressed. `optout`, `optin` and
    `digest` set a state, and `restore` sets one and may post a note: done again minutes
    later they could undo a newer choice made meanwhile (or post the note twice), so their
    replies are not recorded."""
    return not isinstance(request, OptOut | OptIn | Digest | Restore)


class OwedReplies:
    """This process's owed replies: recorded before the ack, settled by the worker, and
    re-driven (for any process) once their holder's lease is over."""

    def __init__(self, services: Services, holder: str | None = None) -> None:
        self.services = services
        self.holder = holder or holder_name()
        # The re-drive holds rows under a name of its own: this process's worker, stalled
        # while its heartbeat could not renew, then finds its row another's, not its own.
        self.redriver = f"{self.holder}/redrive"
        timeout = services.settings.slack_timeout_seconds
        self.lease = min(timedelta(seconds=LEASE_TIMEOUTS * timeout), MAX_LEASE)
        self._answer: AnswerLater | None = None
        self._foreign: Callable[[tuple[object, object]], bool] = lambda _team: False

    def answer_with(
        self, answer: AnswerLater, foreign: Callable[[tuple[object, object]], bool]
    ) -> None:
        """How the re-drive answers: the listener's `answer_later`, after `foreign`, the
        refusal of the other workspaces the payload may have named."""
        self._answer, self._foreign = answer, foreign

    def owe(self, command: Mapping[str, Any], request: SlashRequest) -> int | None:
        """Record the reply `command` is owed; its id, or None when not recorded (a kind
        that may not be answered twice, a value no column takes, the database away)."""
        user, text, url = (
            command.get("user_id"),
            command.get("text") or "",
            command.get("response_url"),
        )
        if not (redrivable(request) and _storable(user, text, url)):
            return None
        assert isinstance(user, str) and isinstance(url, str)
        team = tuple(
            t if isinstance(t, str) and len(t) <= MAX_TEAM else None
            for t in (command.get("team_id"), command.get("enterprise_id"))
        )
        now = self.services.clock()
        try:
            return owe_reply(
                self.services.db,
                slack_user_id=user,
                text=text,
                response_url=url,
                team=(team[0], team[1]),
                holder=self.holder,
                now=now,
                lease_until=now + self.lease,
            )
        except UNAVAILABLE as error:
            log.warning(
                "the reply owed to %s's command is not recorded (%s): it is sent, but lost "
                "if aiusage stops first",
                user,
                database_reason(error),
            )
            return None

    def settled(self, owed_id: int | None, work: Callable[P, None]) -> Callable[P, None]:
        """`work` (the reply) run by the row's holder, which keeps its lease while it works
        and then deletes the row. A row gone before it starts (forgotten, or taken over after
        a wait past the lease) is not answered here."""
        if owed_id is None:
            return work

        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            if not self._renew(owed_id, self.holder):
                log.info("a reply owed was forgotten or taken over before its turn; not sent")
                return
            try:
                with self._held(owed_id, self.holder):
                    work(*args, **kwargs)
            finally:
                self._settle(owed_id)

        return run

    def redrive(self) -> int:
        """Answer again every reply whose holder stopped, while Slack takes it; drop those
        past that. Returns how many were answered."""
        db, now = self.services.db, self.services.clock()
        dropped = drop_born_before(db, now - URL_LIFETIME)
        if dropped:
            log.info(
                "dropped %d owed %s older than %d minutes, unsent: Slack no longer takes them",
                dropped,
                "reply" if dropped == 1 else "replies",
                OWED_REPLY_MINUTES,
            )
        answer = self._answer
        if answer is None:  # no Slack app in this process
            return 0
        timeout = self.services.settings.slack_timeout_seconds
        answered = 0
        # Claimed one at a time, each just before it is answered: a lease taken for all at
        # once could run out behind a slow Slack, and another replica answer again.
        for owed_id in abandoned_replies(db, now, now - URL_LIFETIME):
            moment = self.services.clock()
            row = claim_reply(db, owed_id, self.redriver, moment, moment + self.lease)
            if row is None:
                continue
            answered += 1
            log.info(
                "answering %s's command again: the process that owed its reply stopped",
                row.slack_user_id,
            )
            respond = Respond(response_url=row.response_url)
            try:
                with self._held(row.id, self.redriver):
                    if self._foreign(row.team):
                        reply(respond, render(NotAnswered("stranger")).as_kwargs(), timeout)
                    else:
                        answer(parse_command(row.text), row.slack_user_id, respond)
            except ReplyNotDelivered as error:
                log.warning(
                    "the reply to %s's command did not reach them: %s", row.slack_user_id, error
                )
            finally:
                self._answered(row.id)
        return answered

    @contextmanager
    def _held(self, owed_id: int, holder: str) -> Iterator[None]:
        """While the block runs: the row's lease renewed every quarter of it, and its reply
        sent only while no renewal found the row gone or another's, and not once the row is
        found another's or answered right before a try."""
        beats = heartbeat(
            self.lease / 4,
            lambda: self._still_held(owed_id, holder),
            f"the lease of owed reply {owed_id}",
        )
        with (
            beats as lost,
            sent_only_while(lambda: not lost.is_set() and not self._taken(owed_id, holder)),
        ):
            yield

    def _still_held(self, owed_id: int, holder: str) -> bool:
        if self._renew(owed_id, holder):
            return True
        log.info("a reply owed was forgotten or taken over while being answered; not sent")
        return False

    def _renew(self, owed_id: int, holder: str) -> bool:
        try:
            return renew(self.services.db, owed_id, holder, self.services.clock() + self.lease)
        except UNAVAILABLE as error:  # the reply matters more than its record
            log.warning("could not renew an owed reply's lease: %s", database_reason(error))
            return True

    def _taken(self, owed_id: int, holder: str) -> bool:
        """Whether the row is now another's or answered, renewing it if still `holder`'s. A
        row gone is left to the heartbeat's finding: it was forgotten (or is past Slack's 30
        minutes, when Slack refuses the reply anyway), not answered elsewhere."""
        try:
            now_held_by = renewed_holder(
                self.services.db, owed_id, holder, self.services.clock() + self.lease
            )
        except UNAVAILABLE as error:  # the reply matters more than its record
            log.warning("could not renew an owed reply's lease: %s", database_reason(error))
            return False
        if now_held_by in (None, holder):
            return False
        log.info("a reply owed was answered or taken over while its holder was stalled")
        return True

    def _answered(self, owed_id: int) -> None:
        try:
            mark_answered(self.services.db, owed_id, self.redriver)
        except UNAVAILABLE as error:
            log.warning(
                "an owed reply was answered again but its record stays (%s): it may be sent again",
                database_reason(error),
            )

    def _settle(self, owed_id: int) -> None:
        try:
            settle(self.services.db, owed_id, self.holder)
        except UNAVAILABLE as error:
            log.warning(
                "an owed reply was sent but its record stays (%s): it may be sent again",
                database_reason(error),
            )


def _storable(user: object, text: str, url: object) -> bool:
    """Whether the columns take these as they are: a Slack user ID, text within Slack's own
    bound that both databases store (no NUL, no lone surrogate), a URL of sane length."""
    if not (isinstance(user, str) and SLACK_USER_ID.fullmatch(user)):
        return False
    if not (isinstance(url, str) and 0 < len(url) <= MAX_URL):
        return False
    if not isinstance(text, str) or len(text) > MAX_TEXT or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

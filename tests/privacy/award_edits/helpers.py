"""Last week's award posts in two channels, and what they say, for the tests of a forget's
edits of them."""

from __future__ import annotations

import json

from bot.composition import redrive_job
from bot.composition import slack_notifier as notifier_for
from jobs.awards import post_key
from tests.privacy.helpers import LAST_WEEK, a_week_of_usage, send, suggestion

CHANNELS = ("CAWARDS", "CGENERAL")
KEY = post_key(LAST_WEEK)


def award_messages(fake) -> dict[str, list[str]]:
    """Each channel's messages of last week's award post, as JSON text."""
    return {
        channel: [
            json.dumps(m)
            for m in list(fake.messages[channel])
            if ((m.get("metadata") or {}).get("event_payload") or {}).get("post_key") == KEY
        ]
        for channel in CHANNELS
    }


def naming(fake, user: str = "UALICE") -> list[str]:
    """The channels where a message of last week's award post names `user`."""
    return [c for c, texts in award_messages(fake).items() if any(user in t for t in texts)]


def usage(slack, *, bob_wins: bool) -> None:
    """Alice wins a badge last week; with `bob_wins`, Bob (three days) wins one too."""
    a_week_of_usage(slack.http, slack.api_key)
    if bob_wins:
        send(slack.http, slack.api_key, suggestion({"slack_user_id": "UBOB"}, LAST_WEEK.start))


def run_redrive(slack) -> None:
    """One run of the re-drive `serve` schedules, at the (frozen) time the test is at."""
    redrive_job(slack.services, notifier_for(slack.services.settings))()

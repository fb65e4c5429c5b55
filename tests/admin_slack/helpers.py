"""The retire buttons and what pressing them answers and posts, for the admin tests."""

from __future__ import annotations

import time
from datetime import date

from jobs.weeks import Week

CONFIRM = "aiusage_retire_confirm"
CANCEL = "aiusage_retire_cancel"
# `now` is Wednesday 2026-11-18 (week 2026-W47); awards post on Mondays at 09:00 UTC.
SKIPPED = Week(date(2026, 11, 9))  # last complete week, due while retired
RESUMED = Week(date(2026, 11, 16))  # the week the next run (Mon 23 Nov) awards


def buttons(reply) -> dict[str, dict]:
    [actions] = [b for b in reply["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for e in actions["elements"]}


def preview(slack, text="retire Thanks, everyone.", user_id="UADMIN") -> str:
    """Ask to retire; the pending retirement's id, as its confirm button carries it."""
    return buttons(slack.ask(text, user_id=user_id))[CONFIRM]["value"]


def click(slack, action: str, value: str, user_id: str = "UADMIN") -> dict:
    """Press a button; what the app then posted to the message's response_url."""
    before = len(slack.responses("click"))
    assert slack.click(action, value, user_id=user_id).status_code == 200
    deadline = time.monotonic() + 5
    while len(slack.responses("click")) <= before:
        assert time.monotonic() < deadline, "no answer to the click"
        time.sleep(0.01)
    return slack.responses("click")[before]


def posts(slack) -> list:
    return slack.fake.calls_to("chat.postMessage")

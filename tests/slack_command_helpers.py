"""Usage to send and replies to read for the `/aiusage` tests."""

from __future__ import annotations

from tests.builders import bearer, event

# `now` is Wednesday 2026-11-18 12:00 UTC: week 2026-W47 runs Mon 16 to Sun 22 November.
THIS_MONDAY = "2026-11-16"
LAST_MONDAY = "2026-11-09"


def ingest(slack, api_key, *events):
    response = slack.http.post(
        "/api/v1/events", json={"events": list(events)}, headers=bearer(api_key)
    )
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text
    return response.json()


def used(user, day, hour="10", **fields):
    """An event for a Slack user at `hour`:00 UTC on `day`."""
    fields.setdefault("input_tokens", 0)
    fields.setdefault("output_tokens", 0)
    return event(user={"slack_user_id": user}, occurred_at=f"{day}T{hour}:00:00Z", **fields)


def worked(user, day, hour="10", **fields):
    """`used` with 20 requests unless told: a week of real use in one event, the least
    `top` ranks (the badges' `min_work`), so a board test is about its own point."""
    fields.setdefault("requests", 20)
    return used(user, day, hour, **fields)


def text_of(reply) -> str:
    """All the mrkdwn and plain text a reply's blocks show."""
    parts = []
    for block in reply["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element.get("text", "")  # buttons carry a plain-text object
            parts.append(text["text"] if isinstance(text, dict) else text)
    return "\n".join(parts)

"""Opening the Home tab and reading what it published, for the App Home tests."""

from __future__ import annotations

import json
import threading
import time

from bot.demo.signed_requests import app_home_opened
from tests.builders import bearer
from tests.slack_command_helpers import text_of
from tests.slack_requests import signed_headers

PUBLIC_URL = "https://aiusage.example.com"


def ingest(slack, api_key, *events):
    response = slack.http.post(
        "/api/v1/events", json={"events": list(events)}, headers=bearer(api_key)
    )
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text


def open_home(slack, user_id="UALICE", count=1):
    body = app_home_opened(user_id)
    response = slack.post(body, signed_headers(body, "application/json"))
    assert response.status_code == 200
    [*_, call] = slack.fake.wait_for("views.publish", count)
    assert call.params["user_id"] == user_id
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def check_block_kit_limits(view) -> None:
    assert view["type"] == "home"
    assert 0 < len(view["blocks"]) <= 100
    for block in view["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "image":
            assert 0 < len(block["alt_text"]) <= 2000
            assert len(block.get("image_url", "")) <= 3000
        if block["type"] == "actions":
            assert len(block["elements"]) <= 25
            for button in block["elements"]:
                assert len(button["action_id"]) <= 255 and len(button["text"]["text"]) <= 75


def buttons(view) -> dict[str, str]:
    return {
        e["action_id"]: e["text"]["text"]
        for b in view["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    }


def chart_url(view) -> str:
    [image] = [b for b in view["blocks"] if b["type"] == "image"]
    return image["image_url"]


def open_home_after_click(slack, count):
    [*_, call] = slack.fake.wait_for("views.publish", count)
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def without_public_url(slack) -> None:
    """Socket Mode's situation: Slack cannot fetch images from us."""
    slack.services.settings = slack.services.settings.model_copy(update={"public_url": None})


def chart_file(view) -> str:
    [image] = [b for b in view["blocks"] if b["type"] == "image"]
    return image["slack_file"]["id"]


# -- one person's publishes, in order; rate limits ----------------------------------------------


def post_open(slack, user_id="UALICE") -> None:
    """A signed `app_home_opened`, without waiting for its publish."""
    body = app_home_opened(user_id)
    assert slack.post(body, signed_headers(body, "application/json")).status_code == 200


def hold_first_publish(slack) -> tuple[threading.Event, threading.Event, list[str]]:
    """Slack is slow on the next `views.publish` until `release` is set: returns the event
    set once it is held, `release`, and the text of each view Slack applied, in order."""
    held, release = threading.Event(), threading.Event()

    def hold(_params) -> bool:
        if not held.is_set():
            held.set()
            release.wait(10)
        return True

    applied: list[str] = []
    slack.fake.before("views.publish", hold)
    slack.fake.after("views.publish", lambda params: applied.append(text_of(as_view(params))))
    return held, release, applied


def as_view(params) -> dict:
    view = params["view"]
    return json.loads(view) if isinstance(view, str) else view


def wait_until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)

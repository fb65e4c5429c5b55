"""Requests as Slack sends them to the app, signed with the app's signing secret: slash
commands, button clicks and events. The demo, the tests and the benchmarks build them here."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

from bot.demo.fake_slack import TEAM_ID

# -- requests as Slack sends them to the app -------------------------------------------------
# Slack signs each request with the app's signing secret: HMAC-SHA256 of
# `v0:{timestamp}:{body}`, sent in X-Slack-Signature with X-Slack-Request-Timestamp.


def signature(body: str, timestamp: int, secret: str) -> str:
    """Slack's v0 request signature."""
    digest = hmac.new(
        secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    return f"v0={digest}"


def signed_headers(
    body: str,
    content_type: str = "application/x-www-form-urlencoded",
    *,
    secret: str,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The headers Slack sends with `body`, signed now (or at `timestamp`)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, ts, secret),
    }


def slash_command(
    text: str,
    *,
    user_id: str = "UALICE",
    response_url: str = "http://127.0.0.1:9/response/r1",
    channel_id: str = "CGENERAL",
    command: str = "/aiusage",
) -> str:
    """The form body of a slash command."""
    return urlencode(
        {
            "token": "legacy-verification-token-unused",
            "team_id": TEAM_ID,
            "team_domain": "example",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def block_actions(
    action_id: str,
    value: str,
    *,
    user_id: str = "UALICE",
    response_url: str = "http://127.0.0.1:9/response/r1",
    channel_id: str = "CGENERAL",
) -> str:
    """The form body of a `block_actions` payload: one button click in an ephemeral reply."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "example"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
        "api_app_id": "A0001",
        "token": "legacy-verification-token-unused",
        "container": {"type": "message", "is_ephemeral": True, "channel_id": channel_id},
        "trigger_id": "1.2.3",
        "channel": {"id": channel_id, "name": "general"},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def app_home_opened(user_id: str = "UALICE", tab: str = "home") -> str:
    """The JSON body of an `app_home_opened` event, as the Events API sends it."""
    return json.dumps(
        {
            "token": "legacy-verification-token-unused",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user_id,
                "channel": "D0001",
                "tab": tab,
                "event_ts": f"{time.time():.6f}",
            },
        }
    )

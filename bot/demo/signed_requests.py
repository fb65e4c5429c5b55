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
    team_id: str = TEAM_ID,
    enterprise_id: str | None = None,
) -> str:
    """The form body of a slash command; on Enterprise Grid it names the org too."""
    org = (
        {} if enterprise_id is None else {"enterprise_id": enterprise_id, "enterprise_name": "Org"}
    )
    return urlencode(
        {
            "token": "legacy-verification-token-unused",
            "team_id": team_id,
            "team_domain": "example",
            **org,
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
    team_id: str | None = TEAM_ID,
    user_team_id: str | None = None,
    enterprise_id: str | None = None,
    org_install: bool = False,
) -> str:
    """The form body of a `block_actions` payload: one button click in an ephemeral reply.
    `team_id` is where the click happened, `user_team_id` the clicker's own team (the same
    unless told). On Enterprise Grid the team names its org, as does `enterprise` for an
    org-wide install only, whose clicks may name no team at all (`team_id=None`)."""
    team = None if team_id is None else {"id": team_id, "domain": "example"}
    if team is not None and enterprise_id is not None:
        team.update(enterprise_id=enterprise_id, enterprise_name="Org")
    org = {"id": enterprise_id, "name": "Org"} if org_install and enterprise_id else None
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": team,
        "enterprise": org,
        "is_enterprise_install": org_install,
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "team_id": user_team_id or team_id or enterprise_id,
        },
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


def app_home_opened(
    user_id: str = "UALICE", tab: str = "home", *, enterprise_id: str | None = None
) -> str:
    """The JSON body of an `app_home_opened` event, as the Events API sends it; on
    Enterprise Grid it names the org too."""
    org = {} if enterprise_id is None else {"enterprise_id": enterprise_id}
    return json.dumps(
        {
            "token": "legacy-verification-token-unused",
            "team_id": TEAM_ID,
            **org,
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

"""The fake Slack Web API's answers (bot/demo/fake_slack.py): auth and Socket Mode's
connection, messages, DMs and their history, Home views and users. Kept apart from the
fake's server, which records each call and scripts its failures before one of these answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

TEAM_ID = "T0001"


class WebApiMethods:
    """Mixed into `FakeSlack`, which holds the state these methods read and write; each
    `_api_<method>` answers the Web API method of that name, its dots as underscores."""

    users: dict[str, dict[str, Any]]
    # What auth.test says of the bot token's workspace: its team_id and, on Enterprise Grid,
    # its enterprise_id (an org-wide install may name the org alone).
    workspace: dict[str, Any]
    channels: set[str]
    not_in: set[str]  # channels the app was not invited to
    messages: dict[str, list[dict[str, Any]]]  # channel or user ID -> messages, newest first
    socket_mode_url: str | None
    app_token: str
    history_lag: float
    _posted_at: dict[str, float]
    _lock: threading.Lock
    _ts: Iterator[int]

    def _api_auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, **self.workspace, "user_id": "UBOT", "bot_id": "BBOT", "url": ""}

    def _api_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        token = str(params.get("_authorization", "")).removeprefix("Bearer ")
        if token != self.app_token or self.socket_mode_url is None:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": self.socket_mode_url}

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._dm_user(params.get("channel", ""))
        # A user ID as the channel is a direct message from the app, as in Slack.
        if channel not in self.channels and channel not in self.users:
            return {"ok": False, "error": "channel_not_found"}
        if channel in self.not_in:
            return {"ok": False, "error": "not_in_channel"}
        message = {
            "type": "message",
            "ts": f"{1_800_000_000 + next(self._ts)}.000100",
            "text": params.get("text"),
            "blocks": params.get("blocks"),
            "metadata": params.get("metadata"),
            "bot_id": "BBOT",
        }
        with self._lock:
            self.messages[channel].insert(0, message)
            self._posted_at[str(message["ts"])] = time.monotonic()
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = params.get("channel", ""), params.get("ts")
        with self._lock:
            for message in self.messages.get(channel, []):
                if message["ts"] == ts:
                    message.update(text=params.get("text"), blocks=params.get("blocks"))
                    return {"ok": True, "channel": channel, "ts": ts, "text": message["text"]}
        return {"ok": False, "error": "message_not_found"}

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel") not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": f"{1_800_000_000 + next(self._ts)}.000200"}

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """The app's DM with one user: its channel ID is `D` and the user ID's tail."""
        user = params.get("users", "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + user[1:]}}

    def _dm_user(self, channel: str) -> str:
        """DMs are kept under the user's ID, whether posted to the user or to the DM."""
        user = "U" + channel[1:]
        return user if channel.startswith("D") and user in self.users else channel

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._dm_user(params.get("channel", ""))
        if channel not in self.channels and channel not in self.users:
            return {"ok": False, "error": "channel_not_found"}
        with self._lock:
            shown_before = time.monotonic() - self.history_lag
            found = [
                m
                for m in self.messages[channel]
                if self._posted_at.get(str(m["ts"]), 0.0) <= shown_before
            ]
        if "oldest" in params:
            found = [m for m in found if float(m["ts"]) >= float(params["oldest"])]
        if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
            found = [{k: v for k, v in m.items() if k != "metadata"} for m in found]
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)  # the fake's cursor: an offset
        page = found[start : start + limit]
        more = len(found) > start + limit
        answer: dict[str, Any] = {"ok": True, "messages": page, "has_more": more}
        if more:
            answer["response_metadata"] = {"next_cursor": str(start + limit)}
        return answer

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else view
        if params.get("user_id") not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if len(view.get("blocks") or []) > 100:  # Slack's limit for a Home view
            return {"ok": False, "error": "invalid_blocks"}
        return {"ok": True, "view": {"id": "V0001", **view}}

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(params.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _api_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email", "")).lower()
        for user in self.users.values():
            if (user["profile"].get("email") or "").lower() == email:
                return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

"""`manifest.yml` matches what the code registers and the Web API methods it calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.demo.signed_requests import app_home_opened
from bot.slack.listeners.commands import COMMAND
from tests.slack_requests import signed_headers, slash_command

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())

# The bot scope each Web API method needs (https://docs.slack.dev/reference/methods).
SCOPES_BY_METHOD = {
    "auth_test": set(),
    "users_info": {"users:read"},
    "users_lookupByEmail": {"users:read.email"},
    "chat_postMessage": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_update": {"chat:write"},
    "conversations_history": {"channels:history", "groups:history", "im:history"},
    "conversations_open": {"im:write"},
    "views_publish": set(),
    "usergroups_list": {"usergroups:read"},
    "usergroups_users_list": {"usergroups:read"},
    "files_upload_v2": {"files:write"},
    "files_getUploadURLExternal": {"files:write"},  # files.uploadV2's steps, taken one by one
    "files_completeUploadExternal": {"files:write"},
    "files_delete": {"files:write"},
}


def web_api_methods_called() -> set[str]:
    """Every `client.<method>(` the package's own code calls (the fake Slack aside)."""
    called: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if path.name == "fake_slack.py":
            continue
        called |= set(re.findall(r"client\.([a-z]+_[A-Za-z0-9_]+)\(", path.read_text()))
    return called


def test_every_method_called_is_known():
    assert web_api_methods_called() <= set(SCOPES_BY_METHOD)
    assert {
        "users_info",
        "users_lookupByEmail",
        "chat_postMessage",
        "conversations_history",
        "views_publish",
    } <= web_api_methods_called()


def test_the_manifest_asks_for_the_scopes_the_code_needs_and_no_others():
    needed = {"commands"}.union(*(SCOPES_BY_METHOD[m] for m in web_api_methods_called()))
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert scopes == needed
    assert "user" not in MANIFEST["oauth_config"]["scopes"]


def test_the_manifest_command_is_the_one_registered(slack):
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["description"] and command["usage_hint"]
    assert command["url"].endswith("/slack/events")
    assert MANIFEST["settings"]["interactivity"]["request_url"] == command["url"]
    body = slash_command("help", response_url=slack.fake.response_url())
    assert slack.post(body).status_code == 200
    other = slash_command("help", command="/other", response_url=slack.fake.response_url())
    assert slack.post(other, signed_headers(other)).status_code == 404


def test_the_manifest_has_what_slack_requires():
    info = MANIFEST["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert MANIFEST["features"]["bot_user"]["display_name"]
    assert MANIFEST["settings"]["socket_mode_enabled"] is False
    assert len(MANIFEST["features"]["slash_commands"][0]["description"]) <= 100


def test_the_manifest_subscribes_to_the_events_the_app_listens_for(slack):
    settings = MANIFEST["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert (
        settings["event_subscriptions"]["request_url"] == settings["interactivity"]["request_url"]
    )
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["features"]["app_home"]["messages_tab_enabled"] is True  # digest DMs
    body = app_home_opened("UALICE")
    assert slack.post(body, signed_headers(body, "application/json")).status_code == 200
    slack.fake.wait_for("views.publish")

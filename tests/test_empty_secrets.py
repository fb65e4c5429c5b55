"""A secret setting given empty (`SLACK_SIGNING_SECRET=` in a .env template, `${VAR}` of a
VAR that is not set) is not set, as if left out: the Slack endpoint is never served with an
empty signing secret, and `serve` neither crashes on an empty bot token nor takes an empty
app token for Socket Mode."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import get_args

import httpx
import pytest
from pydantic import SecretStr

from bot.settings import Settings, load_settings
from bot.slack.app import slack_route
from tests.slack_requests import signed_headers, slash_command
from tests.test_replicas import AIUSAGE, env_for, start, stop, wait_ready
from tests.test_serve import free_port

BOT_TOKEN = "xoxb-1111-2222-empty-secrets"
NOBODY = "http://127.0.0.1:1/api/"  # no Slack: nothing listens there


def test_every_secret_setting_given_empty_is_not_set(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    fields = Settings.model_fields
    secret = [name for name, f in fields.items() if SecretStr in get_args(f.annotation)]
    assert len(secret) >= 6  # each found here, so a new one is held to this too
    for blank in ("", "  "):
        for name in secret:
            alias = fields[name].alias
            assert alias is not None
            monkeypatch.setenv(alias, blank)
        settings = load_settings()
        assert {name: getattr(settings, name) for name in secret} == dict.fromkeys(secret)


@pytest.mark.parametrize(
    "given",
    [
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": ""},
        {"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": "a-signing-secret"},
    ],
    ids=["empty-signing-secret", "empty-bot-token"],
)
def test_serve_with_an_empty_slack_setting_serves_without_slack(tmp_path: Path, given):
    """As when the setting is left out: the API serves, and the Slack endpoint says Slack is
    not configured, signed or not. An empty signing secret answered every Slack request,
    however signed, 200 with a traceback in the log; an empty bot token crashed `serve`."""
    port = free_port()
    env = env_for(f"sqlite:///{tmp_path / 'aiusage.db'}", SLACK_API_URL=NOBODY, **given)
    log = tmp_path / "serve.log"
    server = start(env, port, log)
    try:
        wait_ready(port)
        body = slash_command("help", user_id="UFORGED1")
        for secret in ("", "not-the-secret", given["SLACK_SIGNING_SECRET"]):
            answer = httpx.post(
                f"http://127.0.0.1:{port}/slack/events",
                content=body,
                headers=signed_headers(body, secret=secret),
                timeout=10,
            )
            assert answer.status_code == 503, answer.text
            assert "Slack is not configured" in answer.json()["error"]
    finally:
        code = stop(server)
    written = log.read_text()
    assert code == 0, written
    assert "Traceback" not in written


def test_socket_mode_refuses_an_empty_app_token_in_one_line(tmp_path: Path):
    env = env_for(
        f"sqlite:///{tmp_path / 'aiusage.db'}",
        SLACK_API_URL=NOBODY,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN="",
    )
    done = subprocess.run(
        [AIUSAGE, "serve", "--socket-mode", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "aiusage: SLACK_APP_TOKEN: --socket-mode needs an app-level token (xapp-...) "
        "and SLACK_BOT_TOKEN\n"
    )


def test_a_connector_whose_key_is_empty_is_off(run, monkeypatch):
    monkeypatch.setenv("AIUSAGE_COPILOT_TOKEN", "")
    monkeypatch.setenv("AIUSAGE_COPILOT_ORG", "acme")
    code, out, _ = run("connectors", "list")
    assert code == 0
    assert "copilot: off (AIUSAGE_COPILOT_TOKEN is not set)" in out
    code, _, err = run("connectors", "sync", "copilot")
    assert code == 2
    assert err == "aiusage: connector copilot is not configured: AIUSAGE_COPILOT_TOKEN is not set\n"


@pytest.mark.parametrize("secret", ["", None])
def test_the_slack_endpoint_is_never_built_to_dispatch_unchecked(secret):
    """Whatever the settings: an empty key checks nothing, since anyone can sign with it."""
    with pytest.raises(ValueError, match="needs the signing secret"):
        slack_route(lambda request: None, secret)

"""Fixtures for driving the Slack endpoint: a fake Slack Web API on loopback, and a client
that posts signed requests to the real ASGI app. Loaded by `tests/conftest.py`.

Use `slack` in a test: `slack.command("top")` posts a signed `/aiusage top` and returns the
HTTP response; `slack.fake` is the fake Web API, holding every call the app made (including
posts to `response_url`s, as the pseudo-method `response_url`). Time is frozen at `now`
(ticking) with freezegun; `slack.move_to(moment)` travels.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from freezegun import freeze_time
from starlette.testclient import TestClient

from bot.composition import build_services, create_bolt_app, create_http_app
from bot.demo.fake_slack import FakeSlack
from bot.services import Services
from bot.settings import Settings, load_settings
from bot.slack.owed_replies import OwedReplies
from storage.db import Database
from tests.slack_requests import SIGNING_SECRET, block_actions, signed_headers, slash_command

BOT_TOKEN = "xoxb-test-token"


@dataclass
class SlackDriver:
    """Posts what Slack would post, and shows what the app sent back to Slack."""

    http: TestClient
    fake: FakeSlack
    services: Services
    freezer: Any
    _asks: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def command(self, text: str, *, user_id: str = "UALICE", response_url: str = "r1") -> Any:
        """A signed `/aiusage {text}` from `user_id`; returns the HTTP response."""
        body = slash_command(
            text, user_id=user_id, response_url=self.fake.response_url(response_url)
        )
        return self.post(body)

    def ask(self, text: str, *, user_id: str = "UALICE", timeout: float = 15.0) -> dict[str, Any]:
        """The reply the caller sees for `/aiusage {text}`, from the HTTP response or, when
        the app answered later, from its post to the command's `response_url`."""
        name = f"ask{next(self._asks)}"
        response = self.command(text, user_id=user_id, response_url=name)
        assert response.status_code == 200, response.text
        if response.content:
            return response.json()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if posted := self.responses(name):
                return posted[0]
            time.sleep(0.01)
        raise AssertionError(f"no reply to {text!r}: empty ack and no response_url post")

    def click(self, action_id: str, value: str, *, user_id: str = "UALICE") -> Any:
        """A signed button click (`block_actions`) from `user_id`."""
        body = block_actions(
            action_id, value, user_id=user_id, response_url=self.fake.response_url("click")
        )
        return self.post(body)

    def post(self, body: str, headers: dict[str, str] | None = None) -> Any:
        """POST a body to /slack/events, signed now unless `headers` are given."""
        return self.http.post(
            "/slack/events", content=body.encode(), headers=headers or signed_headers(body)
        )

    def move_to(self, moment: datetime) -> None:
        """Travel in time: the app's clock and Slack's signature clock both move."""
        self.freezer.move_to(moment)

    def responses(self, name: str = "r1") -> list[dict[str, Any]]:
        """Bodies the app posted to the response_url called `name`."""
        path = f"/response/{name}"
        return [call.params for call in self.fake.calls_to("response_url") if call.path == path]


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A fake Slack Web API on a loopback port, with Alice and Bob in it."""
    fake = FakeSlack().start()
    fake.add_user("UALICE", email="alice@example.com", name="alice", tz="Europe/Berlin")
    fake.add_user("UBOB", email="bob@example.com", name="bob", tz="America/New_York")
    yield fake
    fake.stop()


@pytest.fixture
def slack_settings(settings: Settings, fake_slack: FakeSlack, monkeypatch) -> Settings:
    """The test settings plus a bot token, signing secret and the fake's API URL."""
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    return load_settings()


@pytest.fixture
def slack(
    slack_settings: Settings, db: Database, now: datetime, fake_slack: FakeSlack
) -> Iterator[SlackDriver]:
    """The real app (production clock, frozen at `now` and ticking) behind a signed client."""
    with freeze_time(now, tick=True) as freezer:
        services = build_services(slack_settings)
        services.db = db
        with TestClient(create_http_app(services)) as http:
            yield SlackDriver(http, fake_slack, services, freezer)


@contextmanager
def redriving_replicas(settings: Settings, *names: str) -> Iterator[list[OwedReplies]]:
    """One served app per name, each with a database handle of its own, as `serve`'s
    replicas: their owed replies, to re-drive, holding as `replica-NAME`."""
    replicas, executors = [], []
    try:
        for name in names:
            services = build_services(settings)
            owed = OwedReplies(services, holder=f"replica-{name}")
            executor = ThreadPoolExecutor(1)
            executors.append(executor)
            assert create_bolt_app(services, executor, owed=owed) is not None
            replicas.append(owed)
        yield replicas
    finally:
        for executor in executors:
            executor.shutdown()

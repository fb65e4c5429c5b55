"""The vendors' admin APIs, faked over loopback (tests/fakes/vendors.py), each with the
connector's settings pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.vendors import FakeAnthropic, FakeCursor, FakeGitHub


@pytest.fixture
def github(settings, monkeypatch) -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    monkeypatch.setenv("AIUSAGE_COPILOT_TOKEN", fake.token)
    monkeypatch.setenv("AIUSAGE_COPILOT_ORG", fake.org)
    monkeypatch.setenv("AIUSAGE_GITHUB_API_URL", fake.url)
    yield fake
    fake.stop()


@pytest.fixture
def cursor_api(settings, monkeypatch) -> Iterator[FakeCursor]:
    fake = FakeCursor()
    monkeypatch.setenv("AIUSAGE_CURSOR_API_KEY", fake.key)
    monkeypatch.setenv("AIUSAGE_CURSOR_API_URL", fake.url)
    yield fake
    fake.stop()


@pytest.fixture
def anthropic(settings, monkeypatch) -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    monkeypatch.setenv("AIUSAGE_ANTHROPIC_ADMIN_KEY", fake.key)
    monkeypatch.setenv("AIUSAGE_ANTHROPIC_API_URL", fake.url)
    yield fake
    fake.stop()

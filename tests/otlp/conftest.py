"""The OTLP tests' person: dev@example.com, known to Slack as UDEV."""

from __future__ import annotations

import pytest

from storage.people import link_email


@pytest.fixture
def person(db, now):
    """dev@example.com, known to Slack as UDEV, so the usage counts."""
    link_email(db, "dev@example.com", "UDEV", now)

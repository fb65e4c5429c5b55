"""The connectors' pure parts and edges: date ranges, Retry-After, windows, settings, the
schedule, and vendor answers that are not what was documented."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import httpx
import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given
from hypothesis import strategies as st

from bot.cli.main import main
from bot.connectors.cursor import windows
from bot.connectors.http import retry_after
from bot.connectors.limits import TooLarge, bounded_lines
from bot.connectors.registry import run_connectors
from bot.settings import SettingsError, load_settings
from jobs.connectors import FIRST_SYNC_DAYS, sync_range
from tests.fakes.vendors import FakeGitHub

TODAY = date(2026, 12, 4)


@given(
    body=st.binary().map(lambda b: b.translate(bytes.maketrans(b"\x00\x01", b"\r\n"))),
    cuts=st.lists(st.integers(min_value=0, max_value=200)),
    keepends=st.booleans(),
)
def test_lines_read_in_chunks_are_the_lines_of_the_whole(body, cuts, keepends):
    # Wherever the chunks break, "\r\n" split across two of them included.
    edges = sorted({0, len(body), *(c for c in cuts if c < len(body))})
    chunks = [body[a:b] for a, b in pairwise(edges)]
    whole = body.splitlines(keepends)
    assert list(bounded_lines(chunks, len(body) + 1, keepends=keepends)) == whole


def test_a_line_past_the_limit_is_refused_before_more_of_it_is_held():
    sent = []

    def chunks():
        for chunk in (b"a\n", b"x" * 40, b"x" * 40, b"x" * 40, b"\n"):
            sent.append(chunk)
            yield chunk

    lines = bounded_lines(chunks(), 64)
    assert next(lines) == b"a"
    with pytest.raises(TooLarge, match="a line longer than 64 bytes"):
        next(lines)
    assert len(sent) == 3  # stopped at the chunk that went past, not at the line's end


def test_sync_range_first_run_lookback_and_explicit_dates():
    assert sync_range(None, 3, TODAY) == (
        TODAY - timedelta(days=FIRST_SYNC_DAYS),
        date(2026, 12, 3),
    )
    assert sync_range(date(2026, 12, 1), 3, TODAY) == (date(2026, 11, 29), date(2026, 12, 3))
    assert sync_range(date(2026, 12, 3), 0, TODAY) == (
        date(2026, 12, 4),
        date(2026, 12, 3),
    )  # empty
    assert sync_range(date(2026, 12, 1), 3, TODAY, date(2025, 1, 1), date(2025, 1, 2)) == (
        date(2025, 1, 1),
        date(2025, 1, 2),
    )


def test_sync_range_never_ends_after_today():
    later = TODAY + timedelta(days=20)
    assert sync_range(None, 3, TODAY, TODAY - timedelta(days=1), later)[1] == TODAY
    assert sync_range(date(2026, 12, 1), 3, TODAY, until=later) == (date(2026, 11, 29), TODAY)


def test_windows_cover_the_range_in_at_most_30_days():
    parts = list(windows(date(2026, 1, 1), date(2026, 3, 31)))
    assert parts[0] == (date(2026, 1, 1), date(2026, 1, 30))
    assert parts[-1][1] == date(2026, 3, 31)
    assert all((end - start).days < 30 for start, end in parts)
    assert sum((end - start).days + 1 for start, end in parts) == 90
    assert list(windows(date(2026, 1, 2), date(2026, 1, 1))) == []


def test_retry_after_as_seconds_or_date():
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    answer = lambda value: httpx.Response(429, headers={"Retry-After": value})  # noqa: E731
    assert retry_after(answer("7")) == 7
    assert retry_after(answer("Fri, 04 Dec 2026 10:00:30 GMT"), now) == 30
    assert retry_after(answer("Fri, 04 Dec 2026 09:00:00 GMT"), now) == 0
    assert retry_after(answer("soon")) is None
    assert retry_after(httpx.Response(503)) is None


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AIUSAGE_CONNECTOR_SCHEDULE", "every hour", "AIUSAGE_CONNECTOR_SCHEDULE"),
        ("AIUSAGE_CONNECTOR_LOOKBACK_DAYS", "-1", "AIUSAGE_CONNECTOR_LOOKBACK_DAYS"),
        ("AIUSAGE_KIRO_REPORTS_URI", "https://bucket", "AIUSAGE_KIRO_REPORTS_URI"),
        ("AIUSAGE_CURSOR_API_URL", "api.cursor.com", "AIUSAGE_CURSOR_API_URL"),
    ],
)
def test_a_malformed_connector_setting_names_its_variable(
    settings, monkeypatch, variable, value, message
):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=f"^{message}"):
        load_settings()


def test_copilot_takes_an_org_or_an_enterprise_not_both(settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_COPILOT_ORG", "acme")
    monkeypatch.setenv("AIUSAGE_COPILOT_ENTERPRISE", "acme-corp")
    with pytest.raises(SettingsError, match=r"^AIUSAGE_COPILOT_ENTERPRISE: set"):
        load_settings()


def test_the_connector_schedule_is_utc_cron():
    trigger = CronTrigger.from_crontab(load_settings().connector_schedule, timezone="UTC")
    fire = trigger.get_next_fire_time(None, datetime(2026, 12, 4, 6, 31, tzinfo=UTC))
    assert fire == datetime(2026, 12, 4, 12, 30, tzinfo=UTC)


class EnterpriseGitHub(FakeGitHub):
    def answer(self, call):  # type: ignore[no-untyped-def]
        path = call.path.replace("/enterprises/acme-corp/", f"/orgs/{self.org}/")
        return super().answer(replace(call, path=path))


def test_copilot_enterprise_and_an_old_day_missing_is_an_error(db, settings, monkeypatch):
    fake = EnterpriseGitHub()
    try:
        monkeypatch.setenv("AIUSAGE_COPILOT_TOKEN", fake.token)
        monkeypatch.setenv("AIUSAGE_COPILOT_ENTERPRISE", "acme-corp")
        monkeypatch.setenv("AIUSAGE_GITHUB_API_URL", fake.url)
        day = date(2026, 11, 2)
        fake.users = {day: [[{"day": day.isoformat(), "user_login": "mona"}]]}
        clock = lambda: datetime(2026, 12, 4, tzinfo=UTC)  # noqa: E731
        [result] = run_connectors(load_settings(), db, clock, ["copilot"], day, day)
        assert result.ok and result.days == 1
        assert fake.calls[0].path == "/enterprises/acme-corp/copilot/metrics/reports/users-1-day"
        fake.fail("/enterprises/acme-corp/copilot/metrics/reports/users-1-day", 404)
        [result] = run_connectors(load_settings(), db, clock, ["copilot"], day, day)
        assert not result.ok and "metrics policy on?" in (result.error or "")
    finally:
        fake.stop()


def test_list_before_any_run_says_what_to_set(db, capsys):
    assert main(["connectors", "list"]) == 0
    out = capsys.readouterr().out
    assert "cursor: off (AIUSAGE_CURSOR_API_KEY is not set)" in out
    assert "never run" in out

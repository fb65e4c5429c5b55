"""Socket Mode App Home charts on several replicas sharing one database: each replica's
memory of which file shows which chart is checked against the person's row, and a replica
that has not uploaded the chart itself adopts the recorded file when it shows the same chart.
Two served apps (two `HomeService`s) on one database play the replicas."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from starlette.testclient import TestClient

from bot.charts import Chart, Panel, Series, chart_fingerprint
from bot.cli.main import main
from bot.composition import build_services, create_http_app
from storage.db import Database
from storage.home_files import home_chart_file
from storage.models import PersonRow
from storage.profiles import find_slack_profile
from tests.builders import event
from tests.home.helpers import chart_file, ingest, open_home, without_public_url
from tests.slack_fixtures import SlackDriver


@contextmanager
def second_replica(slack, slack_settings) -> Iterator[SlackDriver]:
    """Another `serve --socket-mode` process on the same database, the same Slack."""
    services = build_services(slack_settings)
    services.db = Database(slack_settings.database_url, slack_settings.timezone)
    try:
        with TestClient(create_http_app(services)) as http:
            other = SlackDriver(http, slack.fake, services, slack.freezer)
            without_public_url(other)
            yield other
    finally:
        services.db.dispose()


def uploads(slack) -> int:
    return len(slack.fake.calls_to("files.completeUploadExternal"))


def publishes(slack) -> int:
    return len(slack.fake.calls_to("views.publish"))


def open_on(replica, slack) -> str:
    """Alice opens her Home on `replica`; the chart file its publish names."""
    return chart_file(open_home(replica, count=publishes(slack) + 1))


def recorded(slack) -> str | None:
    person = find_slack_profile(slack.services.db, "UALICE")
    assert person is not None
    found = home_chart_file(slack.services.db, person.person_id)
    return found.file_id if found else None


def test_a_replica_never_shows_a_file_another_replica_replaced_and_does_not_upload_again(
    slack, slack_settings, api_key
):
    without_public_url(slack)
    ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=5))
    with second_replica(slack, slack_settings) as other:
        first = open_on(slack, slack)  # A uploads
        second = open_on(other, slack)  # B: the same chart, nothing in its memory
        third = open_on(slack, slack)  # A again
        assert first == second == third == recorded(slack)
        assert third in slack.fake.files
        assert uploads(slack) == 1
        assert slack.fake.calls_to("files.delete") == []


def test_a_file_recorded_without_a_fingerprint_replaced_elsewhere_is_not_shown(
    slack, slack_settings, api_key
):
    # A row recorded before the fingerprint column existed (a replica not yet upgraded).
    without_public_url(slack)
    ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=5))
    with second_replica(slack, slack_settings) as other:
        first = open_on(slack, slack)
        with slack.services.db.write() as conn:
            conn.execute(update(PersonRow).values(home_chart_print=None))
        second = open_on(other, slack)  # B cannot tell: it uploads, and F1 is deleted
        assert second != first and first not in slack.fake.files
        third = open_on(slack, slack)
        assert third == second == recorded(slack) and third in slack.fake.files
        assert uploads(slack) == 2


def test_a_changed_chart_on_the_other_replica_uploads_and_replaces(slack, slack_settings, api_key):
    without_public_url(slack)
    ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=5))
    with second_replica(slack, slack_settings) as other:
        first = open_on(slack, slack)
        ingest(slack, api_key, event(occurred_at="2026-11-18T10:00:00Z", requests=7))
        second = open_on(other, slack)
        assert second != first and uploads(slack) == 2
        slack.fake.wait_for("files.delete")
        assert first not in slack.fake.files and second == recorded(slack)
        assert open_on(slack, slack) == second and uploads(slack) == 2
        ingest(slack, api_key, event(occurred_at="2026-11-18T11:00:00Z", requests=9))
        third = open_on(slack, slack)
        assert third not in (first, second) and uploads(slack) == 3
        assert open_on(other, slack) == third == recorded(slack)
        assert uploads(slack) == 3


def test_a_forget_clears_the_recorded_file_and_fingerprint(slack, slack_settings, api_key, capsys):
    without_public_url(slack)
    with second_replica(slack, slack_settings) as other:
        first = open_on(slack, slack)  # no usage yet: the empty chart
        assert open_on(other, slack) == first
        # From the command line: neither replica hears of it.
        assert main(["people", "forget", "UALICE"]) == 0, capsys.readouterr()
        assert first not in slack.fake.files
        slack.ask("optin")
        person = find_slack_profile(slack.services.db, "UALICE")
        assert person is not None
        found = home_chart_file(slack.services.db, person.person_id)
        # The opt-in refreshes the Home on its own pool, which may have uploaded a new chart
        # by now: what must be gone is the deleted file.
        assert found is None or found.file_id is None or found.file_id != first
        # The same empty chart again: shown from a new upload, never the deleted file.
        for replica in (slack, other):
            again = open_on(replica, slack)
            assert again != first and again in slack.fake.files
        assert uploads(slack) == 2


SAMPLE = Chart(
    "Your last 12 weeks",
    (
        Panel("Requests", "requests", (Series("claude-code", (1.0, None, 3.5, 0.0)),)),
        Panel("Tokens", "tokens", (Series("kiro", (10.0, 2e12, None, 7.0)),), kind="bar"),
    ),
    ("2026-W44", "2026-W45", "2026-W46", "2026-W47"),
)
IN_ANOTHER_PROCESS = """
from bot.charts import Chart, Panel, Series, chart_fingerprint
print(chart_fingerprint(Chart(
    "Your last 12 weeks",
    (
        Panel("Requests", "requests", (Series("claude-code", (1.0, None, 3.5, 0.0)),)),
        Panel("Tokens", "tokens", (Series("kiro", (10.0, 2e12, None, 7.0)),), kind="bar"),
    ),
    ("2026-W44", "2026-W45", "2026-W46", "2026-W47"),
)))
"""


@pytest.mark.parametrize("seed", ["0", "12345"])
def test_the_fingerprint_is_the_same_in_another_process(seed):
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", IN_ANOTHER_PROCESS], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == chart_fingerprint(SAMPLE)
    assert 16 <= len(chart_fingerprint(SAMPLE)) <= 64


text = st.text(max_size=12)
values = st.one_of(st.none(), st.floats(allow_nan=False, width=64), st.integers(0, 10**12))
series = st.builds(Series, text, st.lists(values, max_size=5).map(tuple))
panels = st.builds(
    Panel, text, text, st.lists(series, max_size=3).map(tuple), st.sampled_from(["line", "bar"])
)
charts = st.builds(
    Chart, text, st.lists(panels, max_size=3).map(tuple), st.lists(text, max_size=5).map(tuple)
)


@settings(max_examples=300, deadline=None)
@given(charts, charts)
def test_charts_share_a_fingerprint_exactly_when_they_are_equal(a, b):
    assert (chart_fingerprint(a) == chart_fingerprint(b)) == (a == b)

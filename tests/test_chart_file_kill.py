"""App Home chart files through a SIGKILL of `serve`: one uploaded but not yet recorded as
the person's, and a replaced one whose delete Slack rate-limited, are both deleted from Slack
by the scheduled job after the restart. Before, the first was never known to anyone, and the
second waited on a timer that died with the process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from freezegun import freeze_time

from bot.composition import build_scheduler, build_services
from bot.demo.fake_slack import FakeSlack
from bot.demo.signed_requests import app_home_opened
from bot.settings import load_settings
from storage.integrations import create_integration
from storage.owed_files import owed_files
from tests.builders import bearer, event
from tests.fault_helpers import Aiusage, wait_until
from tests.slack_requests import SIGNING_SECRET, signed_headers


@pytest.fixture
def fake():
    server = FakeSlack()
    server.add_user("UALICE")
    yield server.start()
    server.stop()


@pytest.fixture
def procs(database_url, fake, tmp_path, monkeypatch):
    env = {
        "AIUSAGE_DATABASE_URL": database_url,
        "SLACK_API_URL": fake.api_url,
        "SLACK_BOT_TOKEN": "xoxb-chart-kill",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "AIUSAGE_TIMEZONE": "UTC",
    }
    for name, value in env.items():  # for the job run here, after the restart
        monkeypatch.setenv(name, value)
    runner = Aiusage(env, tmp_path)
    yield runner
    runner.stop_all()


def open_home(base: str) -> None:
    body = app_home_opened("UALICE")
    response = httpx.post(
        f"{base}/slack/events",
        content=body.encode(),
        headers=signed_headers(body, "application/json"),
        timeout=10,
    )
    assert response.status_code == 200


def run_the_job_at(moment: datetime) -> None:
    """The job as a restarted `serve` schedules it, run at `moment`."""
    with freeze_time(moment, tick=True):
        planned = build_scheduler(build_services(load_settings())).planned()
        {name: run for name, _, run in planned}["delete-chart-files"]()


@pytest.mark.postgres
def test_a_chart_uploaded_but_not_recorded_when_serve_was_killed_is_deleted_later(db, fake, procs):
    victim: dict[str, Any] = {}

    def kill_once_uploaded(_params: dict[str, Any]) -> None:
        if "serve" in victim:
            procs.kill(victim.pop("serve"))

    fake.after("files.completeUploadExternal", kill_once_uploaded)
    victim["serve"], base = procs.serve()
    open_home(base)
    wait_until("serve to be killed after the upload", lambda: "serve" not in victim, 30)
    [uploaded] = list(fake.files)
    assert fake.calls_to("views.publish") == []  # killed before it could show it
    [owed] = owed_files(db)
    assert owed.file_id == uploaded

    # Not at once: an upload under way (on any replica) is given time to be recorded.
    run_the_job_at(datetime.now(UTC) + timedelta(minutes=1))
    assert uploaded in fake.files
    run_the_job_at(datetime.now(UTC) + timedelta(minutes=11))
    assert uploaded not in fake.files
    assert owed_files(db) == []


@pytest.mark.postgres
def test_a_rate_limited_delete_owed_when_serve_was_killed_is_made_after_the_restart(
    db, fake, procs
):
    first, base = procs.serve()
    open_home(base)
    fake.wait_for("views.publish")
    procs.kill(first)
    [replaced] = list(fake.files)

    # New usage; a new `serve` uploads the changed chart; Slack rate-limits the delete of the
    # old one. (An unchanged chart would be shown from the recorded file, not uploaded.)
    fake.fail("files.delete", status=429, retry_after=30)
    second, base = procs.serve()
    _, key = create_integration(db, "claude-code", datetime.now(UTC))
    usage = event(occurred_at=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    response = httpx.post(f"{base}/api/v1/events", json=usage, headers=bearer(key), timeout=10)
    assert response.status_code == 200, response.text
    open_home(base)
    fake.wait_for("files.delete")
    fake.wait_for("views.publish", 2)
    procs.kill(second)
    assert replaced in fake.files
    assert [o.file_id for o in owed_files(db)] == [replaced]

    run_the_job_at(datetime.now(UTC) + timedelta(seconds=61))
    assert replaced not in fake.files and len(fake.files) == 1
    assert owed_files(db) == []

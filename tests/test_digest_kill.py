"""The weekly digest through a SIGKILL: `serve` killed after Slack made a subscriber's direct
message but before it recorded it, then started again, sends that DM exactly once. The award
posts' kills are in test_faults.py; the digest shares their claims, but its channel is a
person, whose DM history is read through `conversations.open`."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.demo.fake_slack import FakeSlack
from jobs.digest import digest_key
from jobs.digest_rules import digest_week
from storage.digests import set_digest
from storage.posts import post_claims
from storage.profiles import save_slack_profile
from tests.fault_helpers import Aiusage, wait_until
from tests.post_helpers import seed_award_week

# Monday 09:00 here is Sunday 19:00 in UTC, before the week begins: with the awards due at
# the week's first minute, last week's digest is due whenever the test runs.
EARLIEST_ZONE = "Pacific/Kiritimati"


@pytest.fixture
def fake():
    server = FakeSlack()
    server.add_user("UALICE", tz=EARLIEST_ZONE)
    server.history_lag = 0.6  # a DM shows in history only later (check delay: 0.9 s)
    yield server.start()
    server.stop()


# What `serve`'s scheduler runs when the digest job falls due (every quarter hour), in a
# process of its own, so that it can be killed with SIGKILL mid-run.
RUN_THE_DIGEST_JOB = """
from bot.composition import build_scheduler, build_services
from bot.settings import load_settings

jobs = {name: run for name, _, run in build_scheduler(build_services(load_settings())).planned()}
jobs["weekly-digests"]()
"""


@pytest.fixture
def procs(database_url, fake, tmp_path):
    runner = Aiusage(
        {
            "AIUSAGE_DATABASE_URL": database_url,
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": "xoxb-digest-kill",
            "AIUSAGE_TIMEZONE": "UTC",
            "AIUSAGE_AWARD_SCHEDULE": "0 0 * * mon",
        },
        tmp_path,
    )
    yield runner
    runner.stop_all()


def digest_job(procs: Aiusage) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_THE_DIGEST_JOB],
        env=procs.env,
        cwd=procs.logs,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    procs.running.append(process)
    return process


def digests_to(fake: FakeSlack, user: str, key: str) -> int:
    return sum(
        1
        for m in list(fake.messages.get(user, []))
        if ((m.get("metadata") or {}).get("event_payload") or {}).get("post_key") == key
    )


@pytest.mark.postgres
def test_a_job_killed_after_slack_sent_a_digest_does_not_send_it_again(db, fake, procs):
    now = datetime.now(UTC)
    week = digest_week(now, UTC)
    seed_award_week(db, week, now)
    save_slack_profile(
        db, "UALICE", display_name="Alice", tz=EARLIEST_ZONE, is_workspace_admin=False, now=now
    )
    set_digest(db, "UALICE", True, now)
    key = digest_key(week)
    victim: dict[str, Any] = {}

    def kill_the_job_after_the_dm(params: dict[str, Any]) -> None:
        if params.get("channel") == "UALICE" and "job" in victim:
            procs.kill(victim.pop("job"))

    fake.after("chat.postMessage", kill_the_job_after_the_dm)
    victim["job"] = digest_job(procs)
    wait_until("the job to be killed after the DM", lambda: "job" not in victim, 60)
    [claim] = post_claims(db, key)
    assert (claim.channel, claim.status) == ("UALICE", "claimed")  # never recorded
    assert digests_to(fake, "UALICE", key) == 1

    # The job's next runs (the next quarter hours) take over the dead run's claim once its
    # lease is over, and find the DM in its history instead of sending it again. A run
    # before then finds the DM busy and leaves it to the next due time, which here, with the
    # clock not moved, never comes: so the runs start once the lease is over.
    fake.after("chat.postMessage", lambda _params: None)
    lease = claim.lease_until
    assert lease is not None
    wait_until("the dead run's lease to be over", lambda: datetime.now(UTC) > lease, 10)

    def next_run_completed_it() -> bool:
        assert digest_job(procs).wait(60) == 0
        return [c.status for c in post_claims(db, key)] == ["posted"]

    wait_until("a later run to complete the claim", next_run_completed_it, 60)
    assert digests_to(fake, "UALICE", key) == 1

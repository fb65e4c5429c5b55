"""Old App Home chart files owed a delete in Slack: kept in the database from the moment they
are replaced (or uploaded), deleted by the scheduled job after Slack's Retry-After, and by a
forget with the person's current file; a file Slack says is gone is owed no more."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from bot.cli.main import main
from bot.composition import build_scheduler
from storage.owed_files import owed_files
from tests.builders import event
from tests.home.helpers import chart_file, ingest, open_home, wait_until, without_public_url
from tests.privacy.helpers import clicked
from tests.slack_command_helpers import text_of

JOB = "delete-chart-files"


def run_the_job(slack) -> None:
    """One run of the job as `serve` schedules it (once across replicas, per due minute)."""
    jobs = {name: run for name, _, run in build_scheduler(slack.services).planned()}
    jobs[JOB]()


def replace_the_chart(slack, api_key, count: int = 2) -> str:
    """More usage, then an open that uploads a new chart file; returns the new file."""
    ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=50 * count))
    return chart_file(open_home(slack, count=count))


def deletes(slack) -> list[str]:
    return [c.params["file"] for c in slack.fake.calls_to("files.delete")]


def test_a_rate_limited_delete_of_a_replaced_chart_is_made_by_the_job_after_retry_after(
    slack, api_key, now
):
    without_public_url(slack)
    replaced = chart_file(open_home(slack))
    slack.fake.fail("files.delete", status=429, retry_after=30)
    new = replace_the_chart(slack, api_key)
    slack.fake.wait_for("files.delete")
    [owed] = owed_files(slack.services.db)
    assert owed.file_id == replaced and owed.attempts == 0
    assert owed.not_before >= now + timedelta(seconds=30)
    # Not yet: Slack asked for 30 s.
    run_the_job(slack)
    assert deletes(slack) == [replaced] and replaced in slack.fake.files
    slack.move_to(now + timedelta(seconds=61))
    run_the_job(slack)
    assert deletes(slack) == [replaced, replaced]
    assert replaced not in slack.fake.files and new in slack.fake.files
    assert owed_files(slack.services.db) == []


def test_a_file_slack_says_is_gone_is_owed_no_more_and_not_tried_again(slack, api_key, now):
    without_public_url(slack)
    replaced = chart_file(open_home(slack))
    slack.fake.fail("files.delete", status=429, retry_after=10)
    replace_the_chart(slack, api_key)
    slack.fake.wait_for("files.delete")
    del slack.fake.files[replaced]  # someone deleted it in Slack meanwhile
    slack.move_to(now + timedelta(minutes=1))
    run_the_job(slack)
    assert owed_files(slack.services.db) == []
    slack.move_to(now + timedelta(minutes=5))
    run_the_job(slack)
    assert deletes(slack) == [replaced, replaced]  # once at the swap, once by the job


def test_a_failed_delete_backs_off_and_is_given_up_after_its_bound(slack, api_key, now, caplog):
    without_public_url(slack)
    replaced = chart_file(open_home(slack))
    slack.fake.fail("files.delete", error="internal_error", times=100)
    replace_the_chart(slack, api_key)
    slack.fake.wait_for("files.delete")
    [owed] = owed_files(slack.services.db)
    assert owed.attempts == 1 and owed.error == "internal_error"
    assert owed.not_before > now
    moment = now
    for _ in range(40):
        moment += timedelta(hours=6, minutes=1)
        slack.move_to(moment)
        run_the_job(slack)
        if not owed_files(slack.services.db):
            break
    assert owed_files(slack.services.db) == []
    assert replaced in slack.fake.files  # never deleted: given up, said once
    given_up = [r for r in caplog.records if "gave up deleting" in r.getMessage()]
    assert len(given_up) == 1 and replaced in given_up[0].getMessage()
    assert moment - now < timedelta(days=8)


def test_a_forget_deletes_the_owed_old_file_as_well_as_the_current_one(slack, api_key, capsys):
    without_public_url(slack)
    replaced = chart_file(open_home(slack))
    slack.fake.fail("files.delete", status=429, retry_after=30)
    current = replace_the_chart(slack, api_key)
    slack.fake.wait_for("files.delete")
    assert [o.file_id for o in owed_files(slack.services.db)] == [replaced]
    assert main(["people", "forget", "UALICE"]) == 0, capsys.readouterr()
    assert replaced not in slack.fake.files and current not in slack.fake.files
    assert owed_files(slack.services.db) == []


def test_a_file_a_forget_cannot_delete_stays_owed_untied_and_the_job_deletes_it(
    slack, api_key, now, capsys
):
    without_public_url(slack)
    replaced = chart_file(open_home(slack))
    slack.fake.fail("files.delete", status=429, retry_after=30)
    current = replace_the_chart(slack, api_key)
    slack.fake.wait_for("files.delete")
    slack.fake.fail("files.delete", error="internal_error", times=2)
    assert main(["people", "forget", "UALICE"]) == 1
    assert "internal_error" in capsys.readouterr().err
    owed = owed_files(slack.services.db)
    assert sorted(o.file_id for o in owed) == sorted([replaced, current])
    assert {o.person_id for o in owed} == {None}  # no longer anyone's
    slack.move_to(now + timedelta(minutes=10))
    run_the_job(slack)
    assert replaced not in slack.fake.files and current not in slack.fake.files
    assert owed_files(slack.services.db) == []


def test_the_forget_button_deletes_the_owed_old_file_too(slack, api_key):
    without_public_url(slack)
    replaced = chart_file(open_home(slack))
    slack.fake.fail("files.delete", status=429, retry_after=30)
    current = replace_the_chart(slack, api_key)
    slack.fake.wait_for("files.delete")
    assert "deleted" in json.dumps(clicked(slack, "aiusage_forget_confirm"))
    wait_until(lambda: replaced not in slack.fake.files and current not in slack.fake.files)
    assert owed_files(slack.services.db) == []


def test_the_forget_button_while_deletes_are_rate_limited_answers_at_once(slack, api_key, now):
    """Slack rate-limits `files.delete` (Retry-After 30) as a person confirms their forget:
    they are answered at once, not after waits of 30 s, and both files stay owed, no longer
    anyone's, until the job deletes them after Retry-After."""
    without_public_url(slack)
    replaced = chart_file(open_home(slack))
    slack.fake.fail("files.delete", status=429, retry_after=30)
    current = replace_the_chart(slack, api_key)
    slack.fake.wait_for("files.delete")
    slack.fake.fail("files.delete", status=429, retry_after=30)  # one: then it waits
    started = time.monotonic()
    assert "deleted" in json.dumps(clicked(slack, "aiusage_forget_confirm"))
    assert time.monotonic() - started < 3
    owed = owed_files(slack.services.db)
    assert sorted(o.file_id for o in owed) == sorted([replaced, current])
    assert {o.person_id for o in owed} == {None}
    slack.move_to(now + timedelta(minutes=10))
    run_the_job(slack)
    assert replaced not in slack.fake.files and current not in slack.fake.files
    assert owed_files(slack.services.db) == []


HOSTILE_IDS = [
    "F" + "A" * 10_000,  # huge
    "F0AB\x00CD",  # a NUL, which PostgreSQL cannot store
    "F0AB CD<script>",  # not a file ID
    "",  # none
    "../../etc/passwd",
]


@pytest.mark.parametrize("file_id", HOSTILE_IDS, ids=["huge", "nul", "odd", "empty", "path"])
def test_a_file_id_slack_hands_out_that_is_huge_or_odd_cannot_break_the_home(
    slack, api_key, file_id
):
    without_public_url(slack)
    ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=5))
    slack.fake.next_file_ids.append(file_id)
    view = open_home(slack)
    # A text chart instead of the image; the figures are there; nothing stored or sent.
    assert not [b for b in view["blocks"] if b["type"] == "image"]
    assert "Requests per week, by tool" in text_of(view)
    assert slack.fake.calls_to("file_upload") == []
    assert slack.fake.calls_to("files.completeUploadExternal") == []
    assert owed_files(slack.services.db) == []
    # The next open uploads as ever.
    ingest(slack, api_key, event(occurred_at="2026-11-18T10:00:00Z", requests=6))
    good = chart_file(open_home(slack, count=2))
    assert good in slack.fake.files and len(good) < 64
    assert owed_files(slack.services.db) == []

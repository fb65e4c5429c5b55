"""The tables that grow with time rather than with people each have a bound, applied by the
daily retention and `aiusage db prune`: job-run claims, delivered posts in the outbox, and
audit entries of refused commands (by age, and by count)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from bot.cli.main import main
from jobs.retention import JOB_RUN_DAYS, MAX_REFUSALS, OUTBOX_CLOSED_DAYS, REFUSAL_DAYS
from storage.admin import record_audit
from storage.coordination import claim_job
from storage.outbox import finish_outbox, owe_post
from storage.post_models import AuditRow, JobRunRow, OutboxRow
from storage.retention import Cutoffs, prune

NOW = datetime(2026, 11, 24, 3, 17, tzinfo=UTC)


def prune_now(capsys) -> str:
    capsys.readouterr()
    with freeze_time(NOW):
        assert main(["db", "prune"]) == 0
    return capsys.readouterr().out


def claim(db, due_at: datetime) -> bool:
    with claim_job(db, "awards", due_at, "host:1", due_at) as claimed:
        return claimed


def test_job_run_claims_older_than_a_week_go_and_a_recent_one_still_blocks_a_rerun(
    settings, db, capsys
):
    old = NOW - timedelta(days=JOB_RUN_DAYS, seconds=1)
    recent = NOW - timedelta(days=JOB_RUN_DAYS - 1)
    assert claim(db, old) and claim(db, recent)
    assert "deleted 1 claims of scheduled job runs" in prune_now(capsys)
    with db.read() as conn:
        assert list(conn.scalars(select(JobRunRow.due_at))) == [recent]
    assert claim(db, recent) is False  # still done: no second run for that due time
    assert "deleted 0 claims of scheduled job runs" in prune_now(capsys)


def test_delivered_and_cancelled_posts_leave_the_outbox_after_their_age_owed_ones_never(
    settings, db, capsys
):
    long_ago = NOW - timedelta(days=OUTBOX_CLOSED_DAYS + 1)
    lately = NOW - timedelta(days=OUTBOX_CLOSED_DAYS - 1)
    for key, created, status in (
        ("done-old", long_ago, "done"),
        ("cancelled-old", long_ago, "cancelled"),
        ("done-lately", lately, "done"),
        ("owed-for-ages", NOW - timedelta(days=1000), None),
    ):
        owe_post(db, key, "announcement", {"kind": "x", "text": "%_'"}, ["C1"], created)
        if status:
            finish_outbox(db, key, status, created)
    assert "deleted 2 delivered or cancelled posts" in prune_now(capsys)
    with db.read() as conn:
        left = sorted(conn.scalars(select(OutboxRow.post_key)))
    assert left == ["done-lately", "owed-for-ages"]


def test_refusals_go_after_their_age_while_other_audit_entries_of_that_age_stay(
    settings, db, capsys
):
    old = NOW - timedelta(days=REFUSAL_DAYS + 1)
    record_audit(db, "UMALLORY", "retire", "refused", old, "via slack: not an admin")
    record_audit(db, "UADMIN", "retire", "done", old, "via slack")
    record_audit(db, "UMALLORY", "org", "refused", NOW - timedelta(days=1), "not allowed")
    assert "deleted 1 audit entries of refused commands" in prune_now(capsys)
    with db.read() as conn:
        left = sorted(conn.execute(select(AuditRow.actor, AuditRow.outcome)).all())
    assert left == [("UADMIN", "done"), ("UMALLORY", "refused")]


def test_refusals_are_bounded_by_count_keeping_the_newest(settings, db):
    assert MAX_REFUSALS >= 10_000  # the bound the daily run applies
    for i in range(7):
        record_audit(db, f"U{i}", "org", "refused", NOW - timedelta(minutes=7 - i))
    record_audit(db, "UADMIN", "retire", "done", NOW - timedelta(hours=1))
    cutoffs = Cutoffs(None, None, None, None, refusals_kept=3)
    assert prune(db, cutoffs, batch=2)["refusals"] == 4
    with db.read() as conn:
        left = sorted(conn.scalars(select(AuditRow.actor)))
    assert left == ["U4", "U5", "U6", "UADMIN"]
    assert prune(db, cutoffs)["refusals"] == 0


def test_otlp_series_state_goes_35_days_after_its_last_point(client, api_key, db, now, capsys):
    from tests.otlp.helpers import metrics, tokens
    from tests.otlp.helpers import send as send_otlp

    assert send_otlp(client, api_key, metrics(tokens(100))).status_code == 200
    capsys.readouterr()
    with freeze_time(now + timedelta(days=34)):
        assert main(["db", "prune"]) == 0
    assert "deleted 0 OpenTelemetry series states" in capsys.readouterr().out
    with freeze_time(now + timedelta(days=35, seconds=1)):
        assert main(["db", "prune"]) == 0
    assert "deleted 1 OpenTelemetry series states" in capsys.readouterr().out

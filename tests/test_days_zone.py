"""A database counts its days in one zone: the first migration records AIUSAGE_TIMEZONE, a
process set to another refuses to run (one replica deployed with a different value would
otherwise cut the same moments into other days beside them), and an operator who means to
change it does so once, on purpose, with `db upgrade --change-timezone`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete
from starlette.testclient import TestClient

from bot.composition import build_services, create_http_app
from bot.settings import load_settings
from storage.integrations import create_integration
from storage.models import MetaRow
from tests.builders import bearer, event
from tests.test_replicas import AIUSAGE, env_for

TOKYO = "Asia/Tokyo"


@contextmanager
def api_as_configured() -> Iterator[TestClient]:
    """The HTTP app built the way `serve` builds it, from the environment as it is now."""
    services = build_services(load_settings())
    try:
        with TestClient(create_http_app(services)) as client:
            yield client
    finally:
        services.db.dispose()


def days_reported(run, day: str) -> dict[str, int]:
    """Tokens per person counted on `day`, as `aiusage report` reads them."""
    code, out, err = run("report", "--from", day, "--to", day, "--format", "json")
    assert code == 0, err
    return {row["slack_user_id"]: row["input_tokens"] for row in json.loads(out)}


def test_a_process_in_another_zone_stops_with_one_line_saying_what_to_do(run, monkeypatch):
    assert run("db", "upgrade")[0] == 0  # records UTC
    monkeypatch.setenv("AIUSAGE_TIMEZONE", TOKYO)

    for argv in (["report"], ["db", "upgrade"], ["awards", "preview"]):
        code, out, err = run(*argv)
        assert (code, out) == (2, ""), argv
        assert err.count("\n") == 1
        assert f"AIUSAGE_TIMEZONE is {TOKYO}, but this database counts its days in UTC" in err
        assert "aiusage db upgrade --change-timezone" in err


def test_serve_refuses_to_start_in_another_zone(db, database_url):
    env = env_for(database_url, AIUSAGE_TIMEZONE=TOKYO)
    done = subprocess.run(
        [AIUSAGE, "serve", "--port", "9"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"aiusage: AIUSAGE_TIMEZONE is {TOKYO}, but this database counts its days in UTC; "
        f"set AIUSAGE_TIMEZONE=UTC, or, to count new days in {TOKYO}, stop every aiusage "
        "process and run `aiusage db upgrade --change-timezone` once (days already counted "
        "keep their dates)"
    ]


def test_changing_the_zone_counts_new_days_in_it_and_keeps_the_old_days(run, db, now, monkeypatch):
    _, key = create_integration(db, "claude-code", now)
    late = {"user": {"slack_user_id": "ULATE"}, "input_tokens": 7}
    with api_as_configured() as client:
        # 23:30 UTC is still the 17th in UTC
        answer = client.post(
            "/api/v1/events",
            json=event(occurred_at="2026-11-17T23:30:00Z", **late),
            headers=bearer(key),
        )
        assert answer.json()["accepted"] == 1

    monkeypatch.setenv("AIUSAGE_TIMEZONE", TOKYO)
    code, out, _ = run("db", "upgrade", "--change-timezone")
    assert code == 0
    assert out == (
        f"new days are counted in {TOKYO}, no longer in UTC; days already counted keep "
        "their dates\n"
    )
    with api_as_configured() as client:
        # The same hour a day later is the 19th in Tokyo.
        answer = client.post(
            "/api/v1/events",
            json=event(occurred_at="2026-11-18T23:30:00Z", **late),
            headers=bearer(key),
        )
        assert answer.json()["accepted"] == 1

    assert days_reported(run, "2026-11-17") == {"ULATE": 7}
    assert days_reported(run, "2026-11-18") == {}
    assert days_reported(run, "2026-11-19") == {"ULATE": 7}
    assert run("db", "upgrade", "--change-timezone")[1] == (
        f"database is up to date; its days are counted in {TOKYO}\n"
    )


def test_a_replica_left_in_the_old_zone_turns_unready(client, settings, monkeypatch, run):
    assert client.get("/readyz").json() == {"status": "ready"}
    monkeypatch.setenv("AIUSAGE_TIMEZONE", TOKYO)
    assert run("db", "upgrade", "--change-timezone")[0] == 0

    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["error"].startswith(
        f"AIUSAGE_TIMEZONE is UTC, but this database counts its days in {TOKYO}"
    )
    assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_a_database_from_before_the_zone_was_recorded_takes_the_next_migrators(
    run, db, monkeypatch
):
    with db.write() as conn:
        conn.execute(delete(MetaRow).where(MetaRow.key == "days_zone"))
    monkeypatch.setenv("AIUSAGE_TIMEZONE", TOKYO)
    assert run("report")[0] == 0  # nothing recorded: nothing to hold a reader to
    assert run("db", "upgrade")[0] == 0
    monkeypatch.setenv("AIUSAGE_TIMEZONE", "UTC")
    code, _, err = run("report")
    assert code == 2 and f"counts its days in {TOKYO}" in err

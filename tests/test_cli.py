"""The `aiusage` command line: what operators and their scripts rely on."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from bot.cli.main import main
from storage.db import SCHEMA_HEAD, alembic_config
from tests.builders import bearer, event


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_db_upgrade_says_it_created_the_schema_then_that_it_is_up_to_date(settings, capsys):
    # Before, an empty database was migrated and reported "up to date" as if nothing ran.
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0
    assert out.startswith(f"database created at revision {SCHEMA_HEAD} (") and out.count("\n") == 1
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0
    assert out.startswith("database is up to date (") and out.count("\n") == 1


def test_db_upgrade_changing_the_zone_of_an_empty_database_says_it_created_it(settings, capsys):
    code, out, _ = run(capsys, "db", "upgrade", "--change-timezone")
    assert code == 0
    zone = settings.timezone.key
    assert out == f"database created at revision {SCHEMA_HEAD}; its days are counted in {zone}\n"


def test_db_upgrade_names_the_revisions_it_went_between(settings, db, capsys):
    with db.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "-1")
        conn.commit()
        before = MigrationContext.configure(conn).get_current_revision()
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0
    assert out.startswith(f"database upgraded from revision {before} to {SCHEMA_HEAD} (")
    assert before != SCHEMA_HEAD


def test_create_prints_the_key_once_alone_on_the_last_line(settings, client, capsys):
    code, out, _ = run(capsys, "integrations", "create", "kiro")
    assert code == 0
    key = out.strip().splitlines()[-1]
    assert key.startswith("aiu_") and " " not in key
    response = client.post("/api/v1/events", json=event(), headers=bearer(key))
    assert response.status_code == 200


def test_create_refuses_a_duplicate_or_bad_name(settings, db, capsys):
    run(capsys, "integrations", "create", "kiro")
    code, _, err = run(capsys, "integrations", "create", "kiro")
    assert code == 1 and "already exists" in err
    code, _, err = run(capsys, "integrations", "create", "Bad Name!")
    assert code == 2 and "names are" in err


def test_list_shows_state_but_never_keys(settings, db, capsys):
    _, created, _ = run(capsys, "integrations", "create", "copilot")
    key = created.strip().splitlines()[-1]
    run(capsys, "integrations", "create", "cursor")
    run(capsys, "integrations", "revoke", "cursor")
    code, out, _ = run(capsys, "integrations", "list")
    assert code == 0
    assert "copilot" in out and "active" in out
    assert "cursor" in out and "revoked" in out
    assert key not in out


def test_a_revoked_key_is_refused_at_once(settings, client, capsys):
    _, created, _ = run(capsys, "integrations", "create", "copilot")
    key = created.strip().splitlines()[-1]
    code, _, _ = run(capsys, "integrations", "revoke", "copilot")
    assert code == 0
    assert client.post("/api/v1/events", json=event(), headers=bearer(key)).status_code == 401
    code, _, err = run(capsys, "integrations", "revoke", "copilot")
    assert code == 1 and "no active integration" in err


def test_create_gives_a_revoked_integration_a_new_key_and_keeps_it_one_integration(
    settings, client, capsys
):
    _, created, _ = run(capsys, "integrations", "create", "copilot")
    old = created.strip().splitlines()[-1]
    sent = event(event_id="run-1")
    assert client.post("/api/v1/events", json=sent, headers=bearer(old)).status_code == 200
    run(capsys, "integrations", "revoke", "copilot")

    code, out, _ = run(capsys, "integrations", "create", "copilot")

    assert code == 0 and "new key" in out
    new = out.strip().splitlines()[-1]
    assert new.startswith("aiu_") and new != old
    assert client.post("/api/v1/events", json=sent, headers=bearer(old)).status_code == 401
    # The same integration: the event sent under the old key is a duplicate, not a second.
    again = client.post("/api/v1/events", json=sent, headers=bearer(new))
    assert (again.status_code, again.json()["duplicates"]) == (200, 1)
    _, listed, _ = run(capsys, "integrations", "list")
    assert [line.split()[:2] for line in listed.splitlines()[1:]] == [["copilot", "active"]]
    code, _, err = run(capsys, "integrations", "create", "copilot")
    assert code == 1 and "already exists" in err


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AIUSAGE_PORT", "eighty", "AIUSAGE_PORT"),
        ("AIUSAGE_PORT", "70000", "AIUSAGE_PORT"),
        ("AIUSAGE_TIMEZONE", "Mars/Olympus", "AIUSAGE_TIMEZONE: unknown IANA time zone"),
        ("AIUSAGE_AWARD_SCHEDULE", "every monday", "AIUSAGE_AWARD_SCHEDULE: expected 5"),
        ("AIUSAGE_AWARD_SCHEDULE", "0 25 * * mon", "AIUSAGE_AWARD_SCHEDULE: invalid cron"),
        ("AIUSAGE_WORKSPACE_ADMINS", "perhaps", "AIUSAGE_WORKSPACE_ADMINS"),
        ("AIUSAGE_AWARD_SCHEDULE", "0 9 31 2 *", "AIUSAGE_AWARD_SCHEDULE: cron expression"),
        ("AIUSAGE_CONNECTOR_SCHEDULE", "0 9 30 2 *", "AIUSAGE_CONNECTOR_SCHEDULE: cron"),
        ("AIUSAGE_POST_CHECK_DELAY_SECONDS", "0", "AIUSAGE_POST_CHECK_DELAY_SECONDS"),
        ("AIUSAGE_POST_LEASE_SECONDS", "1e-300", "AIUSAGE_POST_LEASE_SECONDS"),
        ("AIUSAGE_POST_REDRIVE_SECONDS", "1e-300", "AIUSAGE_POST_REDRIVE_SECONDS"),
        ("AIUSAGE_SLACK_TIMEOUT_SECONDS", "0.001", "AIUSAGE_SLACK_TIMEOUT_SECONDS"),
        ("SLACK_API_URL", "notaurl", "SLACK_API_URL: expected an http(s) URL"),
        ("AIUSAGE_DATABASE_URL", "nonsense", "AIUSAGE_DATABASE_URL: not a database URL"),
        ("AIUSAGE_DATABASE_URL", "", "AIUSAGE_DATABASE_URL: not a database URL"),
        ("AIUSAGE_DATABASE_URL", "postgresql://u@h:port/db", "AIUSAGE_DATABASE_URL: not a"),
        ("AIUSAGE_DATABASE_URL", "mysql://u:hunter2@h/db", "AIUSAGE_DATABASE_URL: mysql:// is"),
        ("AIUSAGE_DATABASE_URL", "postgresql+psycopg2://u@h/db", "AIUSAGE_DATABASE_URL: post"),
        ("AIUSAGE_DATABASE_URL", "oracle+nosuch://u@h/db", "AIUSAGE_DATABASE_URL: oracle+"),
        ("AIUSAGE_DATABASE_URL", "sqlite://", "AIUSAGE_DATABASE_URL: an in-memory"),
        ("AIUSAGE_DATABASE_URL", "sqlite:///:memory:", "AIUSAGE_DATABASE_URL: an in-memory"),
        (
            "AIUSAGE_DATABASE_URL",
            "sqlite+pysqlite:///:memory:",
            "AIUSAGE_DATABASE_URL: an in-memory",
        ),
        (
            "AIUSAGE_DATABASE_URL",
            "sqlite:///file:x?mode=memory&uri=true",
            "AIUSAGE_DATABASE_URL: an in-memory",
        ),
        (
            "AIUSAGE_DATABASE_URL",
            "sqlite:///file::memory:?uri=true",
            "AIUSAGE_DATABASE_URL: an in-memory",
        ),
        (
            "AIUSAGE_DATABASE_URL",
            "postgresql+psycopg://u:hunter2@h/db?sslmod=require",
            'AIUSAGE_DATABASE_URL: invalid connection option "sslmod"',
        ),
    ],
)
def test_a_malformed_setting_stops_with_one_line_naming_it(
    settings, monkeypatch, capsys, variable, value, message
):
    monkeypatch.setenv(variable, value)
    code, out, err = run(capsys, "db", "upgrade")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"aiusage: {message}")
    assert "hunter2" not in err


def test_settings_come_from_a_dotenv_file_too(settings, tmp_path, monkeypatch):
    from bot.settings import load_settings

    (tmp_path / ".env").write_text("AIUSAGE_AWARD_CHANNELS=C01, C02\nAIUSAGE_ADMINS=UADMIN\n")
    loaded = load_settings()
    assert loaded.award_channels == ("C01", "C02")
    assert loaded.admins == ("UADMIN",)


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"# caf\xe9 settings\nAIUSAGE_TIMEZONE=UTC\n", "not UTF-8 text at byte 5 (line 1)"),
        ("AIUSAGE_TIMEZONE=UTC\n".encode("utf-16"), "UTF-16 text, not UTF-8: save it as UTF-8"),
    ],
    ids=["latin-1", "utf-16"],
)
def test_a_dotenv_file_that_is_not_utf8_stops_with_one_line_naming_it(
    settings, tmp_path, capsys, content, problem
):
    # A Windows editor's Latin-1 comment, or Notepad's "Unicode": a traceback for every command.
    (tmp_path / ".env").write_bytes(content)
    code, out, err = run(capsys, "integrations", "list")
    assert (code, out, err) == (2, "", f"aiusage: .env: {problem}\n")


@pytest.mark.one_database
def test_a_dotenv_file_saved_with_a_byte_order_mark_is_read_whole(settings, tmp_path):
    from bot.settings import load_settings

    # Notepad's "UTF-8 with BOM": the BOM is no part of the first variable's name.
    (tmp_path / ".env").write_bytes("AIUSAGE_ADMINS=UADMIN\n".encode("utf-8-sig"))
    assert load_settings().admins == ("UADMIN",)


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("variable", "value", "entry"),
    [
        ("AIUSAGE_ADMINS", "U0AAA111 U0BBB222", "'U0AAA111 U0BBB222'"),
        ("AIUSAGE_ADMINS", "U0AAA111;U0BBB222", "'U0AAA111;U0BBB222'"),
        ("AIUSAGE_ADMINS", "U0AAA111,@alice", "'@alice'"),
        ("AIUSAGE_INSIGHT_VIEWERS", "U0AAA111 U0BBB222", "'U0AAA111 U0BBB222'"),
        ("AIUSAGE_AWARD_CHANNELS", "C0AAA111 C0BBB222", "'C0AAA111 C0BBB222'"),
        ("AIUSAGE_AWARD_CHANNELS", "#general", "'#general'"),
    ],
)
def test_a_list_of_slack_ids_with_a_wrong_separator_or_entry_stops_with_one_line(
    settings, monkeypatch, capsys, variable, value, entry
):
    # Taken as one ID, the list matched nobody: every admin refused, every award post failed.
    monkeypatch.setenv(variable, value)
    code, out, err = run(capsys, "admin", "status")
    assert code == 2 and out == ""
    assert err.startswith(f"aiusage: {variable}: {entry} is not a Slack ") and err.count("\n") == 1
    assert "separated by commas" in err


@pytest.mark.one_database
def test_lists_of_slack_ids_take_commas_with_spaces_and_blanks_around_them(settings, monkeypatch):
    from bot.settings import load_settings

    monkeypatch.setenv("AIUSAGE_ADMINS", " U0AAA111 , W0BBB222,, ")
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "C0AAA111, G0BBB222,")
    loaded = load_settings()
    assert loaded.admins == ("U0AAA111", "W0BBB222")
    assert loaded.award_channels == ("C0AAA111", "G0BBB222")


def test_help_is_on_every_command(capsys):
    for argv in (["--help"], ["integrations", "--help"], ["integrations", "create", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
    assert "usage: aiusage integrations create" in capsys.readouterr().out


@pytest.mark.parametrize("timezone", [ZoneInfo("America/New_York")])
def test_audit_lists_entries_in_the_configured_zone(settings, db, now, capsys):
    from datetime import timedelta

    from storage.admin import record_audit

    record_audit(db, "UADMIN", "retire", "refused", now - timedelta(days=3), "not an admin")
    record_audit(db, "UADMIN", "retire", "done", now, "Bye.")
    code, out, _ = run(capsys, "audit")
    assert code == 0
    assert "WHEN (America/New_York)" in out
    assert "2026-11-18 07:00:00" in out  # noon UTC
    code, out, _ = run(capsys, "audit", "--since", "2026-11-17")
    assert "refused" not in out and "done" in out


def test_operators_changes_to_integrations_are_audited(settings, db, capsys):
    run(capsys, "integrations", "create", "kiro")
    run(capsys, "integrations", "create", "kiro")
    run(capsys, "integrations", "revoke", "kiro")
    _, out, _ = run(capsys, "audit")
    lines = [line.split() for line in out.splitlines()[1:]]
    assert [(line[3], line[4]) for line in lines] == [
        ("integrations.create", "done"),
        ("integrations.create", "refused"),
        ("integrations.revoke", "done"),
    ]
    assert all(line[2].startswith("cli") for line in lines)


def test_a_command_on_a_schema_that_is_behind_says_to_upgrade_and_changes_nothing(settings, capsys):
    for argv in (["report"], ["audit"], ["integrations", "create", "kiro"]):
        code, out, err = run(capsys, *argv)
        assert code == 2, argv
        assert out == ""
        assert err == "aiusage: the database schema is not current; run `aiusage db upgrade`\n"
    # Nothing was migrated behind the operator's back; the upgrade then lets them through.
    assert run(capsys, "db", "upgrade")[0] == 0
    assert run(capsys, "integrations", "create", "kiro")[0] == 0


def test_a_schema_newer_than_the_code_says_so_rather_than_to_upgrade(db, settings, capsys):
    # A rolled-back deploy: `db upgrade`, which these commands used to advise, refuses too.
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    for argv in (["integrations", "list"], ["report"], ["db", "upgrade"]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (1, ""), argv
        assert err.startswith(
            "aiusage: AIUSAGE_DATABASE_URL: the database schema is at revision 'ffff_future', "
            "newer than this aiusage knows"
        ), argv
        assert err.endswith("; run the newer aiusage\n") and "db upgrade" not in err


def test_commands_read_the_injected_clock(settings, db, capsys):
    from datetime import UTC, datetime

    code = main(
        ["integrations", "create", "kiro"], clock=lambda: datetime(2031, 5, 6, 7, 8, tzinfo=UTC)
    )
    assert code == 0
    capsys.readouterr()
    assert main(["audit"]) == 0
    assert "2031-05-06 07:08" in capsys.readouterr().out


def test_a_password_given_as_a_query_parameter_is_never_printed(settings, capsys, monkeypatch):
    """libpq takes `?password=` as well as `user:password@`; both are masked."""
    if settings.database_url.startswith("sqlite"):
        pytest.skip("a password is PostgreSQL's")
    url = settings.database_url
    monkeypatch.setenv(
        "AIUSAGE_DATABASE_URL", url + ("&" if "?" in url else "?") + "password=hunter2"
    )
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0
    assert "hunter2" not in out and "password=***" in out


def test_the_settings_repr_masks_the_database_password(monkeypatch):
    from bot.settings import load_settings

    monkeypatch.setenv("AIUSAGE_DATABASE_URL", "postgresql+psycopg://u:hunter2@h/db?password=pw2")
    shown = repr(load_settings())
    assert "hunter2" not in shown and "pw2" not in shown
    assert "postgresql+psycopg://u:***@h/db?password=***" in shown

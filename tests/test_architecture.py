"""The shape of the code holds: import rules, and migrations that match the models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db import SCHEMA_HEAD, alembic_config
from storage.schema import metadata

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def not_an_event_partition(name, type_, _parent_names) -> bool:
    return not (type_ in ("table", "index") and name and name.startswith("usage_events_"))


def test_migrations_build_exactly_the_models(db):
    with db.engine.connect() as conn:
        opts = {"compare_type": True, "include_name": not_an_event_partition}
        context = MigrationContext.configure(conn, opts=opts)
        differences = compare_metadata(context, metadata)
    if not db.is_sqlite:
        # Raw events are partitioned by day on PostgreSQL (0120_replicas), so their key
        # holds the day; that, and the partitions themselves, are all that differ.
        keys = [(kind, [c.name for c in uq.columns]) for kind, uq in differences[-2:]]
        assert keys == [
            ("remove_constraint", ["integration_id", "event_id", "day"]),
            ("add_constraint", ["integration_id", "event_id"]),
        ]
        differences = differences[:-2]
    assert differences == []


def test_upgrade_is_idempotent(db):
    db.upgrade()
    assert db.ping()


def test_slack_web_api_is_faked_once():
    """The demo and the tests share one fake Slack; a second one would drift from it. A fake
    answers chat.postMessage: in a module that serves HTTP, or in a method of its own."""
    fakes = sorted(
        str(path.relative_to(ROOT))
        for folder in ("bot", "jobs", "storage", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path != Path(__file__).resolve()  # which names all of these
        and (
            "def _api_chat_postMessage" in (text := path.read_text())
            or (
                "http.server" in text and ("chat_postMessage" in text or "chat.postMessage" in text)
            )
        )
    )
    assert fakes == ["bot/demo/fake_slack_methods.py"]


def test_a_slack_user_id_is_one_rule():
    """Every place that takes a Slack user ID uses `storage.bounds.SLACK_USER_ID`, so a
    value one door refuses is refused by all."""
    spelled = sorted(
        str(path.relative_to(ROOT))
        for folder in ("bot", "jobs", "storage")
        for path in (ROOT / folder).rglob("*.py")
        if "[UW][A-Z0-9]" in path.read_text()
    )
    assert spelled == ["storage/bounds.py"]


def test_serving_loads_the_charting_stack_only_when_a_chart_is_drawn():
    # matplotlib, numpy and PIL are some 55 MB a replica; one that only ingests never draws.
    script = (
        "import sys\n"
        "import bot.cli.serve, bot.composition\n"
        "heavy = {'matplotlib', 'numpy', 'PIL'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "from bot.charts import Chart, render_png\n"
        "assert render_png(Chart('t', ()), 100, 100).startswith(b'\\x89PNG')\n"
        "assert heavy <= set(sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_schema_head_the_code_checks_is_the_newest_migration():
    # `Database.schema_is_current` compares the database with SCHEMA_HEAD, not with the
    # migrations themselves: a new migration must move it.
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [SCHEMA_HEAD]


def test_a_command_that_does_not_migrate_never_loads_alembic(db, settings):
    # A connector's sync holds its memory under a bound; alembic and every migration would
    # be 11 MB of it. `connectors list` opens and checks the database the same way.
    code = (
        "import sys; from bot.cli.main import main; rc = main(['connectors', 'list']); "
        "print(rc, sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr


def test_the_slow_first_modules_exist():
    """A module renamed away from SLOW_FIRST would quietly run last again."""
    from tests.conftest import SLOW_FIRST

    missing = [name for name in SLOW_FIRST if not (ROOT / "tests" / name).exists()]
    assert missing == []

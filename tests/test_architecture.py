"""The shape of the code holds: import rules, and migrations that match the models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage.models import Base

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_build_exactly_the_models(db):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_is_idempotent(db):
    db.upgrade()
    assert db.ping()


def test_slack_web_api_is_faked_once():
    """The demo and the tests share one fake Slack; a second one would drift from it."""
    fakes = sorted(
        str(path.relative_to(ROOT))
        for folder in ("bot", "jobs", "storage", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if path != Path(__file__).resolve()  # which names both
        and "http.server" in (text := path.read_text())
        and ("chat_postMessage" in text or "chat.postMessage" in text)
    )
    assert fakes == ["bot/demo/fake_slack.py"]

"""Fixtures shared by every test: databases, settings, the app and its HTTP client."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import matplotlib.figure  # noqa: F401
import psycopg
import pytest
from starlette.testclient import TestClient

from bot.cli.main import main
from bot.composition import build_services, create_http_app
from bot.demo.walkthrough import serving
from bot.services import Services
from bot.settings import Settings, load_settings
from storage.db import Database
from storage.integrations import create_integration
from tests.migrated_copies import MigratedCopies
from tests.session_database import session_database

pytest_plugins = ["tests.slack_fixtures", "tests.vendor_fixtures"]
# The app imports matplotlib at its first chart render (bot/charts.py); a test process loads
# it once here, so that seconds of import on a busy machine never count against a test's wait
# for a reply. Serving without it is tested in a process of its own (test_architecture.py).

PG_SERVER_URL = os.environ.get("AIUSAGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# Each test process's PostgreSQL tests run in a database of its own (tests/session_database.py).
PG_ADMIN_URL = session_database(PG_SERVER_URL)
_pg_reachable: bool | None = None


def postgres_reachable() -> bool:
    global _pg_reachable
    if _pg_reachable is None:
        try:
            psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
            _pg_reachable = True
        except psycopg.OperationalError:
            _pg_reachable = False
    return _pg_reachable


# Modules whose tests start processes (serve, replicas, kills), each test 5 to 55 s on a slow
# machine: run first, handed out one at a time (`--dist load --maxschedchunk 1`), so that
# the longest are not left to run at the end while the other workers stand idle.
SLOW_FIRST = (
    "test_replicas.py",
    "test_faults.py",
    "test_weekly_kill.py",
    "test_serve.py",
    "test_slack_endpoint.py",
    "test_database_outage.py",
    "test_connector_backfill.py",
    "test_integrity_running.py",
    "test_migration_kill.py",
    "test_cli_kills.py",
    "test_people_import_kill.py",
    "test_frozen_session.py",
    "privacy/award_edits/test_forget_edits.py",
    "test_connection_guard.py",
    "award_posting/test_commands.py",
    "award_posting/test_outages.py",
    "test_readiness.py",
    "test_digest_kill.py",
    "test_owed_reply_kill.py",
    "test_owed_reply_lease.py",
    "test_socket_mode.py",
    "test_read_only_role.py",
    "test_days_zone.py",
    "test_slack_top.py",
    "test_slack_top_warm_up.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `one_database` (what they test lies above the database) run on SQLite
    alone: the suite's PostgreSQL half costs twice its SQLite half, and CI has ten minutes.
    The modules in SLOW_FIRST go first."""
    kept, dropped = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and params.params.get("database_url") == "postgresql"
        if on_postgres and item.get_closest_marker("one_database"):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # Stable: the same order in every worker, as pytest-xdist requires.
    kept.sort(key=lambda item: not item.nodeid.split("::")[0].endswith(SLOW_FIRST))
    items[:] = kept


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aiusage.db'}"
        return
    if not postgres_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but {PG_ADMIN_URL} is unreachable")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    base = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    # Not dropped after the test: the process's database goes, with every schema, at its end.
    yield f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture
def timezone() -> ZoneInfo:
    """The configured zone; override in a module to test another."""
    return ZoneInfo("UTC")


@pytest.fixture
def settings(database_url: str, timezone: ZoneInfo, monkeypatch, tmp_path) -> Settings:
    """Settings as an operator would give them, read through the environment."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in list(os.environ):
        if name.startswith(("AIUSAGE_", "SLACK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIUSAGE_DATABASE_URL", database_url)
    monkeypatch.setenv("AIUSAGE_TIMEZONE", timezone.key)
    return load_settings()


@pytest.fixture(scope="session")
def migrated_copies(tmp_path_factory: pytest.TempPathFactory) -> MigratedCopies:
    return MigratedCopies(tmp_path_factory.mktemp("migrated"), PG_ADMIN_URL)


@pytest.fixture
def db(settings: Settings, migrated_copies: MigratedCopies) -> Iterator[Database]:
    """The migrated database the app uses (a copy of one migrated for the test process)."""
    migrated_copies.fill(settings.database_url, settings.timezone)
    database = Database(settings.database_url, settings.timezone)
    yield database
    database.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


@pytest.fixture
def services(settings: Settings, db: Database, now: datetime) -> Services:
    """The app's services with a clock fixed at `now`."""
    built = build_services(settings, clock=lambda: now)
    built.db = db
    return built


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """An HTTP client speaking to the real ASGI app."""
    with TestClient(create_http_app(services)) as test_client:
        yield test_client


@pytest.fixture
def api_key(db: Database, now: datetime) -> str:
    """The key of a fresh integration named `claude-code`."""
    _, key = create_integration(db, "claude-code", now)
    return key


@pytest.fixture
def live_server(services: Services) -> Iterator[str]:
    """The real ASGI app served by uvicorn on a loopback port; yields its base URL."""
    with serving(create_http_app(services)) as base_url:
        yield base_url


@pytest.fixture
def run(db: Database, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Runs the real command line on the migrated database; (exit code, stdout, stderr)."""

    def _run(*argv: object) -> tuple[int, str, str]:
        code = main([str(arg) for arg in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return _run

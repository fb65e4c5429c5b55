"""The deploy recipe (Dockerfile, compose.yaml, docs/deploy.md) kept in step with the project:
Python version, entry point, port, health check, and every setting it names."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from bot.connection_guard import MOST_CONNECTIONS, RESERVED_FILES
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Variables compose.yaml gives the app that are not our settings: libpq reads them itself.
READ_BY_LIBPQ = {"PGPASSWORD"}
SETTING = re.compile(r"\b((?:AIUSAGE|SLACK)_[A-Z_]+)\b")


def known_settings() -> set[str]:
    return {field.alias for field in Settings.model_fields.values() if field.alias}


def instructions(name: str) -> list[str]:
    """The arguments of each `name` instruction, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_the_image_uses_the_python_the_project_requires():
    [arg] = [a for a in instructions("ARG") if a.startswith("PYTHON_VERSION=")]
    version = arg.split("=", 1)[1]
    assert PYPROJECT["project"]["requires-python"] == f">={version}"
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert "3.11" in version and f"Python {version}" in DEPLOY


def test_the_image_is_multi_stage_slim_and_not_root():
    froms = instructions("FROM")
    assert len(froms) >= 2 and all("-slim" in f for f in froms)
    assert "--from=build" in DOCKERFILE
    [user] = instructions("USER")
    assert user not in ("root", "0")


def test_the_entry_point_is_aiusage_serve():
    assert "aiusage" in PYPROJECT["project"]["scripts"]
    [entry] = instructions("ENTRYPOINT")
    [cmd] = instructions("CMD")
    assert eval(entry) + eval(cmd) == ["aiusage", "serve"]  # JSON arrays, as Docker reads them
    assert "ExecStart=/var/lib/aiusage/venv/bin/aiusage serve" in DEPLOY


def test_port_and_health_check_agree_with_the_settings():
    default_port = Settings.model_fields["port"].default
    assert instructions("EXPOSE") == [str(default_port)]
    assert f"AIUSAGE_PORT={default_port}" in DOCKERFILE
    [health] = instructions("HEALTHCHECK")
    assert "/readyz" in health
    service = COMPOSE["services"]["aiusage"]
    assert service["environment"]["AIUSAGE_PORT"] == str(default_port)
    assert all(p.endswith(f":{default_port}") for p in service["ports"])
    assert service["depends_on"]["db"]["condition"] == "service_healthy"
    assert service["environment"]["AIUSAGE_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_every_setting_the_recipe_names_exists():
    named = set(SETTING.findall(DOCKERFILE)) | set(SETTING.findall(DEPLOY))
    named |= set(COMPOSE["services"]["aiusage"]["environment"]) - READ_BY_LIBPQ
    unknown = named - known_settings()
    assert not unknown, f"the recipe names settings that do not exist: {sorted(unknown)}"
    assert {"AIUSAGE_DATABASE_URL", "SLACK_BOT_TOKEN", "AIUSAGE_LOG_FORMAT"} <= named


def test_the_image_copies_every_package_it_installs():
    for package in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        top = package.rstrip("*")
        assert f"COPY {top} ./{top}" in DOCKERFILE


def test_the_recipe_lets_serve_take_all_the_connections_it_may():
    # systemd's default soft limit of 1,024 files would leave serve 768 connections.
    wanted = MOST_CONNECTIONS + RESERVED_FILES
    [unit] = re.findall(r"^LimitNOFILE=(\d+)$", DEPLOY, re.MULTILINE)
    assert int(unit) >= wanted
    assert int(COMPOSE["services"]["aiusage"]["ulimits"]["nofile"]) >= wanted


def test_the_database_password_reaches_both_sides_as_given():
    # In the URL, SQLAlchemy decodes %40 and the like, which the db's own copy does not: an
    # encoded password failed to log in, and an unencoded one with @ or / broke the URL.
    db = COMPOSE["services"]["db"]["environment"]
    app = COMPOSE["services"]["aiusage"]["environment"]
    assert app["PGPASSWORD"] == db["POSTGRES_PASSWORD"]
    assert make_url(app["AIUSAGE_DATABASE_URL"]).password is None
    assert "POSTGRES_PASSWORD" not in app["AIUSAGE_DATABASE_URL"]
    assert "URL-encode it" not in DEPLOY


def test_every_setting_is_documented_and_every_documented_one_exists():
    """The README and docs/ name each setting an operator can set, and none that is not one
    (the three connector base URLs were in the contract and settings but in no doc)."""
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = {name for doc in docs for name in SETTING.findall(doc.read_text())}
    # Prefixes and the tests' and benchmarks' own variables, not settings of the app.
    named -= {"AIUSAGE_POST_", "AIUSAGE_TEST_POSTGRES", "AIUSAGE_BENCH_PROFILE"}
    named -= {"AIUSAGE_BENCH_ROOT"}
    assert not named - known_settings(), sorted(named - known_settings())
    assert not known_settings() - named, sorted(known_settings() - named)

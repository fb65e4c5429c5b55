"""Minimum data at the doors: only allowlisted attributes reach the database, and prompt or
response text, file paths and repository names never do, whatever a tool sends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.cli.main import main
from storage.models import EventRow
from tests.builders import bearer, event
from tests.otlp.helpers import claude_resource, kv, metrics, send, tokens
from tests.privacy.helpers import scan

SECRETS = {
    "prompt": "SECRET-PROMPT please refactor payroll.py",
    "response": "SECRET-RESPONSE here is the code",
    "file_path": "/home/alice/SECRET-PATH/payroll.py",
    "repository": "acme/SECRET-REPO",
    "user.name": "SECRET-NAME",
}


def stored_attributes(db) -> list[dict | None]:
    with db.read() as conn:
        return list(conn.scalars(select(EventRow.attributes).order_by(EventRow.id)))


def test_only_allowlisted_event_attributes_are_stored(client, api_key, db):
    body = event(attributes={**SECRETS, "language": "python", "ide": "vscode", "x": "1"})
    response = client.post("/api/v1/events", json=body, headers=bearer(api_key))
    assert response.json()["accepted"] == 1
    assert stored_attributes(db) == [{"language": "python", "ide": "vscode"}]
    assert scan(db, ["SECRET"]) == []


def test_an_event_with_nothing_allowed_keeps_no_attributes(client, api_key, db):
    body = event(attributes=SECRETS)
    assert client.post("/api/v1/events", json=body, headers=bearer(api_key)).status_code == 200
    assert stored_attributes(db) == [None]


@pytest.fixture
def custom(settings, monkeypatch):
    from bot.settings import load_settings

    monkeypatch.setenv("AIUSAGE_KEEP_ATTRIBUTES", "team_size, editor_theme")
    return load_settings()


def test_the_operator_chooses_the_allowlist(custom, services, db, api_key):
    from starlette.testclient import TestClient

    from bot.composition import create_http_app

    services.settings = custom
    with TestClient(create_http_app(services)) as http:
        body = event(attributes={"team_size": 4, "language": "go", **SECRETS})
        assert http.post("/api/v1/events", json=body, headers=bearer(api_key)).status_code == 200
    assert stored_attributes(db) == [{"team_size": 4}]


@pytest.mark.parametrize("listed", ["model,prompt", "file_path", "repo_name", "Response"])
def test_an_allowlist_naming_something_never_stored_stops_start_up(
    settings, monkeypatch, capsys, listed
):
    monkeypatch.setenv("AIUSAGE_KEEP_ATTRIBUTES", listed)
    assert main(["db", "prune"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aiusage: AIUSAGE_KEEP_ATTRIBUTES:") and "never stored" in err


def test_otlp_attributes_never_reach_the_database(client, api_key, db, now):
    from storage.people import link_email

    link_email(db, "dev@example.com", "UDEV", now)
    resource = claude_resource()
    resource.attributes.extend([kv(k, v) for k, v in SECRETS.items()])
    request = metrics(tokens(1200, **{k.replace(".", "__"): v for k, v in SECRETS.items()}),
                      resource=resource)  # fmt: skip
    assert send(client, api_key, request).status_code == 200
    assert len(stored_attributes(db)) == 1
    assert scan(db, ["SECRET"]) == []

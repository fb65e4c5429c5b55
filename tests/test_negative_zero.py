"""A cost of `-0` (JSON allows it, and OTLP's as_double holds it): no read shows `-$0.00`
or `-0.0`, on either database (PostgreSQL's float8 keeps the sign; SQLite drops it). Found
not broken: the API stores it as 0.0, OTLP drops a zero point, and the Claude Code report
sums its models' cents onto 0.0."""

from __future__ import annotations

import json
import re

from bot.cli.main import main
from storage.people import link_email
from tests.builders import bearer, event
from tests.otlp.helpers import DELTA, claude_resource, metrics, point, send, tokens
from tests.slack_command_helpers import text_of

WEEK = "2026-W47"
NEGATIVE_ZERO = re.compile(r"-\$?0(\.0+)?\b")


def test_a_cost_of_minus_zero_reads_as_zero_everywhere(slack, api_key, db, now, capsys):
    link_email(db, "dev@example.com", "UALICE", now)
    body = '{"events": [' + json.dumps(event(requests=2))[:-1] + ', "cost_usd": -0.0}]}'
    response = slack.http.post(
        "/api/v1/events",
        content=body.encode(),
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    assert response.json()["accepted"] == 1, response.text
    message = metrics(
        ("claude_code.cost.usage", [point(-0.0, model="m")]),
        tokens(5, "output"),
        temporality=DELTA,
        resource=claude_resource(),
    )
    assert send(slack.http, api_key, message).status_code == 200
    me = text_of(slack.ask("me"))
    assert "$0.00" in me
    assert not NEGATIVE_ZERO.search(me), me
    for fmt in ("json", "csv"):
        assert main(["report", "--week", WEEK, "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert "cost" in out
        assert not NEGATIVE_ZERO.search(out), out

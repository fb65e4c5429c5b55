"""`aiusage report` never prints a terminal's control characters from a name others chose:
an ESC or BEL sequence in it would clear the operator's screen, retitle the window or hide a
link (`docs/reliability.md`, Hostile input)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import orjson
import pytest

from bot.cli.main import main
from bot.composition import build_scheduler
from tests.builders import event
from tests.test_ingest_api import post

# OSC (retitle, then BEL), CSI (clear the screen), the one-byte C1 CSI, DEL, a lone BEL.
CONTROLS = "\x1b\x07\x9b\x7f"
TOOLS = ["\x1b]0;retitled\x07x", "\x1b[2Jcleared", "\x9b31mred", "del\x7f", "tab\tand\nline"]


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def printed(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_report_csv_shows_control_characters_in_a_tool_name_as_question_marks(
    client, api_key, db, capsys
):
    """A tool's name is the integration's to choose; JSON escapes what it holds, CSV wrote
    it raw to the terminal."""
    batch = [event(tool=tool, occurred_at="2026-11-18T09:00:00Z") for tool in TOOLS]
    assert post(client, api_key, {"events": batch}).json()["accepted"] == len(TOOLS)
    span = ("report", "--from", "2026-11-16", "--to", "2026-11-22")

    out = printed(capsys, *span)
    assert not set(CONTROLS) & set(out), repr(out)
    tools = {row["tool"] for row in csv.DictReader(io.StringIO(out, newline=""))}
    assert tools == {"?]0;retitled?x", "?[2Jcleared", "?31mred", "del?", "tab\tand\nline"}

    records = orjson.loads(printed(capsys, *span, "--format", "json"))
    assert {record["tool"] for record in records} == set(TOOLS)


def test_report_json_escapes_c1_and_del_rather_than_printing_them(client, api_key, db, capsys):
    """JSON escaped ESC and BEL (`\\u001b`) but wrote DEL and the one-byte CSI (U+009B, which
    many terminals honour) raw; now they are escaped too, and the names round-trip."""
    batch = [event(tool=tool, occurred_at="2026-11-18T09:00:00Z") for tool in TOOLS]
    assert post(client, api_key, {"events": batch}).json()["accepted"] == len(TOOLS)

    out = printed(
        capsys, "report", "--from", "2026-11-16", "--to", "2026-11-22", "--format", "json"
    )
    assert not set(CONTROLS) & set(out), repr(out)
    assert "\\u009b31mred" in out and "del\\u007f" in out
    assert {record["tool"] for record in orjson.loads(out)} == set(TOOLS)


def test_people_export_escapes_every_control_character_and_round_trips(client, api_key, db, capsys):
    """`people export` is one JSON document for the terminal or a file: Python's json left
    DEL and C1 (U+009B is CSI) raw; a tool name chosen by an integration reached the
    operator's terminal."""
    batch = [event(tool=tool, occurred_at="2026-11-18T09:00:00Z") for tool in TOOLS]
    assert post(client, api_key, {"events": batch}).json()["accepted"] == len(TOOLS)

    out = printed(capsys, "people", "export", "UALICE")
    assert not set(CONTROLS) & set(out), repr(out)
    document = orjson.loads(out)
    assert set(TOOLS) <= {row["tool"] for row in document["events"]}


def test_audit_shows_control_characters_in_a_detail_as_question_marks(
    settings, db, capsys, tmp_path
):
    """A file name given to `people import` by a script is kept in the audit detail as
    given; `aiusage audit` printed it raw. (An announcement with control characters was the
    first case; `admin retire` refuses those now, as `/aiusage retire` does.)"""
    named = tmp_path / ("bye " + "".join(TOOLS) + ".csv")
    named.write_text("identity,slack_user\ncopilot:octocat,UALICE\n", encoding="utf-8")
    assert main(["people", "import", str(named)]) == 0
    capsys.readouterr()

    out = printed(capsys, "audit")
    assert not set(CONTROLS) & set(out), repr(out)
    assert "bye ?]0;retitled?x?[2Jcleared?31mreddel?tab?and line" in out


def test_awards_preview_shows_control_characters_in_a_flagged_name_as_question_marks(
    slack, api_key, db, capsys
):
    """`awards preview` names the flagged by the Slack ID that Slack's `users.lookupByEmail`
    answered for their email (or their email): Slack's answer was printed raw."""
    hostile = "U1\x1b]0;retitled\x07\x9b31m"
    slack.fake.add_user(hostile, email="eve@example.com", name="eve")
    loop = [
        event(
            user={"email": "eve@example.com"},
            occurred_at=f"2026-11-20T02:{minute:02d}:00Z",
            kind="chat",
            tool="kiro",
        )
        for minute in range(40)
    ]
    assert post(slack.http, api_key, {"events": loop}).json()["accepted"] == 40
    jobs = {name: run for name, _, run in build_scheduler(slack.services).planned()}
    jobs["match-emails"]()

    out = printed(capsys, "awards", "preview", "--week", "2026-W47")
    assert "Integrity flags (" in out
    assert not set(CONTROLS) & set(out), repr(out)
    assert "U1?]0;retitled??31m" in out

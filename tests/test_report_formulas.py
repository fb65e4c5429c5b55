"""`aiusage report` as CSV never hands a spreadsheet a live formula (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import orjson
import pytest

from bot.cli.main import main
from bot.cli.spreadsheet import neutralise
from tests.builders import event
from tests.test_ingest_api import post

FORMULAS = [
    "=1+2",
    "+SUM(A1)",
    "-2+3",
    "@cmd",
    "\tTAB",
    "\rCR",
    '=HYPERLINK("http://x")',
    "x\r=cmd()",  # a bare CR would start a new row whose first cell is a formula
]


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def report(capsys, *argv: str) -> str:
    assert main(["report", "--from", "2026-11-16", "--to", "2026-11-22", *argv]) == 0
    return capsys.readouterr().out


def test_formula_cells_are_neutralised_in_csv_and_kept_as_typed_in_json(
    client, api_key, db, tmp_path, capsys
):
    batch = [event(tool=tool, occurred_at="2026-11-18T09:00:00Z") for tool in FORMULAS]
    assert post(client, api_key, {"events": batch}).json()["accepted"] == len(FORMULAS)
    kiro = tmp_path / "kiro.csv"
    kiro.write_text(
        "Date,UserId,Client_Type,Total_Messages\n"
        "2026-11-17,=cmd|' /C calc'!A0,KIRO_IDE,3\n"
        "2026-11-17,@evil,KIRO_IDE,2\n"
        "2026-11-17,plain-user,KIRO_IDE,1\n"
    )
    assert main(["import", "kiro", str(kiro)]) == 0
    capsys.readouterr()

    rows = list(csv.DictReader(io.StringIO(report(capsys), newline="")))
    tools = {row["tool"] for row in rows}
    assert {neutralise(tool).replace("\r", "\n") for tool in FORMULAS} <= tools
    identities = {row["identity"] for row in rows if row["identity"]}
    assert identities == {"kiro:=cmd|' /C calc'!A0", "kiro:@evil", "kiro:plain-user"}
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert {row["requests"] for row in rows} >= {"1", "3"}  # numbers stay numbers

    records = orjson.loads(report(capsys, "--format", "json"))
    assert set(FORMULAS) <= {record["tool"] for record in records}


def test_neutralise_leaves_ordinary_values_alone():
    assert neutralise("claude-code") == "claude-code"
    assert neutralise("a=b") == "a=b"
    assert neutralise(12) == 12 and neutralise(0.5) == 0.5 and neutralise(None) is None
    assert [neutralise(f) for f in FORMULAS[:-1]] == ["'" + f for f in FORMULAS[:-1]]


BEHIND_BLANKS = ["\n=nl()", " =sp()", "\u00a0=nbsp()", "\u200b=zw()", "\ufeff \t+1", "  @x"]


def test_a_formula_behind_leading_blanks_is_neutralised_too(client, api_key, db, capsys):
    """Spreadsheets trim some leading whitespace before reading a cell, and zero-width
    characters cannot be seen: a formula behind them is as live as one in front."""
    batch = [event(tool=tool, occurred_at="2026-11-18T09:00:00Z") for tool in BEHIND_BLANKS]
    assert post(client, api_key, {"events": batch}).json()["accepted"] == len(BEHIND_BLANKS)
    rows = list(csv.DictReader(io.StringIO(report(capsys), newline="")))
    assert {row["tool"] for row in rows} == {"'" + tool for tool in BEHIND_BLANKS}
    assert neutralise(" plain") == " plain" and neutralise("\u200bx-y") == "\u200bx-y"

"""The org view's settings: a malformed one stops start-up with one line naming it; the
price list's estimate as a pure function."""

from __future__ import annotations

import pytest

from bot.cli.main import main
from bot.settings import load_settings
from jobs.prices import Prices, ToolPrice, load_prices


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AIUSAGE_MIN_GROUP_SIZE", "0", "AIUSAGE_MIN_GROUP_SIZE"),
        ("AIUSAGE_MIN_GROUP_SIZE", "five", "AIUSAGE_MIN_GROUP_SIZE"),
        ("AIUSAGE_TEAMS_FROM_USERGROUPS", "perhaps", "AIUSAGE_TEAMS_FROM_USERGROUPS"),
        ("AIUSAGE_PRICES", "/nonexistent/prices.yml", "AIUSAGE_PRICES: cannot read prices"),
    ],
)
def test_a_malformed_setting_stops_with_one_line(settings, monkeypatch, capsys, variable, value,
                                                 message):  # fmt: skip
    monkeypatch.setenv(variable, value)
    assert main(["db", "upgrade"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"aiusage: {message}")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("tools: [1, 2]", "expected `tools:`"),
        ("tools:\n  cursor: 3", "expected a mapping"),
        ("tools:\n  cursor:\n    input_per_million: -1", "between 0 and 1000000"),
        ("tools:\n  cursor:\n    input_per_million: .nan", "between 0 and 1000000"),
        ("tools:\n  cursor:\n    input_per_million: 1.0e+308", "between 0 and 1000000"),
        ("tools:\n  cursor:\n    input_per_million: true", "must be a number"),
        ("tools:\n  cursor:\n    per_model: {}", "unknown field per_model"),
        ("tools: {x: {seat_per_month: '3'}}", "must be a number"),
        ("[unclosed", "cannot read prices"),
    ],
)
def test_a_bad_price_list_says_what_is_wrong(tmp_path, text, error):
    path = tmp_path / "prices.yml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        load_prices(path)


def test_settings_read_the_org_knobs(settings, monkeypatch, tmp_path):
    path = tmp_path / "prices.yml"
    path.write_text("tools:\n  kiro:\n    output_per_million: 12\n")
    monkeypatch.setenv("AIUSAGE_PRICES", str(path))
    monkeypatch.setenv("AIUSAGE_INSIGHT_VIEWERS", " U01 ,U02,, ")
    monkeypatch.setenv("AIUSAGE_MIN_GROUP_SIZE", "7")
    loaded = load_settings()
    assert loaded.insight_viewers == ("U01", "U02") and loaded.min_group_size == 7
    assert loaded.prices().tools["kiro"] == ToolPrice(output_per_million=12.0)
    assert loaded.teams_from_usergroups is False


def test_estimates_cover_tokens_and_seats_and_unknown_tools_cost_nothing():
    prices = Prices({"a": ToolPrice(3.0, 15.0, 30.4375)})
    assert prices.estimate("a", 1_000_000, 0, 0) == 3.0
    assert prices.estimate("a", 0, 2_000_000, 7) == pytest.approx(37.0)
    assert prices.estimate("b", 10**15, 10**15, 7) == 0.0
    assert prices.estimate("a", 10**15, 0, 0) == 3.0e9  # huge numbers stay finite

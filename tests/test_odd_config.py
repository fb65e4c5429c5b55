"""Odd values of the settings and of the award rules file: each stops start-up with one line
naming what is wrong, before anything runs, never a traceback, a hang, or a silent default."""

from __future__ import annotations

import pytest

from bot.cli.main import main

pytestmark = pytest.mark.one_database

RULES = "AIUSAGE_AWARD_RULES"


def stops_with_one_line(monkeypatch, capsys, variable: str, value: str) -> str:
    monkeypatch.setenv(variable, value)
    assert main(["db", "upgrade"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith(f"aiusage: {variable}: "), err
    return err


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("categories: {steady: {minimum: -3}}", "'steady': minimum must be from 0 to"),
        ("categories: {steady: {minimum: .nan}}", "'steady': minimum must be from 0 to"),
        ("categories: {steady: {minimum: .inf}}", "'steady': minimum must be from 0 to"),
        ("categories: {steady: {minimum: 1.0e+300}}", "'steady': minimum must be from 0 to"),
        ("categories: {acceptance: {maximum: .nan}}", "'acceptance': maximum must be from 0 to"),
        ("categories: {acceptance: {maximum: 0.1}}", "'acceptance': maximum 0.1 is below"),
        ("categories: {lean: {min_tokens: -1}}", "'lean': min_tokens must be from 0 to"),
        ("categories: {lean: {min_tokens: 100000000000000000000000}}", "min_tokens must be from"),
        ("categories: {steady: {min_active_days: 8}}", "min_active_days must be from 0 to 7"),
        ("categories: {steady: {minimum: 3}, steady: {minimum: 5}}", "duplicate key 'steady'"),
        ("history_weeks: 4\nhistory_weeks: 12\n", "duplicate key 'history_weeks'"),
        ("categories: {steady: {title: ''}}", "'steady': title must not be empty"),
        # One badge a category a week: past six, a number is a typo or meant "no limit".
        ("max_badges_per_person: 7", "max_badges_per_person must be a whole number from 1 to 6"),
        ("max_badges_per_person: 100000000000000000000000", "from 1 to 6 (one a category"),
        ("max_badges_per_person: 0", "max_badges_per_person must be a whole number from 1 to 6"),
    ],
)
def test_odd_award_rules_stop_start_up_with_one_line(
    settings, monkeypatch, capsys, tmp_path, text, words
):
    # Before, each was taken: a NaN or negative minimum let every week of use win (and the
    # Home read "at least nan days"), a maximum under the minimum let nobody, and of two
    # keys of the same name the last silently won.
    path = tmp_path / "rules.yml"
    path.write_text(text)
    err = stops_with_one_line(monkeypatch, capsys, RULES, str(path))
    assert words in err


@pytest.mark.parametrize("variable", [RULES, "AIUSAGE_PRICES"])
def test_a_file_setting_naming_no_regular_file_or_nothing_stops_at_once(
    settings, monkeypatch, capsys, tmp_path, variable
):
    # /dev/zero was read until memory ran out; a huge file whole; an empty value was read
    # as the directory `.`.
    err = stops_with_one_line(monkeypatch, capsys, variable, "/dev/zero")
    assert "not a regular file" in err
    big = tmp_path / "big.yml"
    big.write_text("#" * (1024 * 1024 + 1))
    assert "larger than 1 MiB" in stops_with_one_line(monkeypatch, capsys, variable, str(big))
    err = stops_with_one_line(monkeypatch, capsys, variable, "")
    assert "is empty" in err


def test_an_empty_host_is_refused_not_taken_for_every_interface(settings, monkeypatch, capsys):
    # `AIUSAGE_HOST=${HOST}` with HOST unset made `serve` listen on every interface, where
    # the default is this machine alone.
    err = stops_with_one_line(monkeypatch, capsys, "AIUSAGE_HOST", "")
    assert "0.0.0.0" in err

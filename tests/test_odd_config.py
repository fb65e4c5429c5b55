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


def laughs(levels: int, top: str) -> str:
    """The "billion laughs": each anchor nine aliases of the one before, 9**levels in all."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join([*lines, top.replace("BOMB", f"*l{levels}")]) + "\n"


def merges(levels: int) -> str:
    """Merge keys, each mapping merging ten of the one before."""
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}"]
    lines += [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 10)}]}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def chain(levels: int) -> str:
    """Each anchor a list holding the one before: shallow as written, deep as read."""
    lines = ["a0: &a0 [1]", *(f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, levels))]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("variable", "text", "words"),
    [
        (RULES, laughs(9, "categories: {steady: {title: BOMB}}"), "aliases expand it past"),
        (RULES, laughs(9, "rewards_line: BOMB"), "aliases expand it past"),
        ("AIUSAGE_PRICES", laughs(9, "tools: {x: {input_per_million: BOMB}}"), "aliases expand"),
        (RULES, merges(9), "aliases expand it past"),
        (RULES, "a: &a [1, *a]\n", "an alias inside its own anchor (line 1)"),
        (RULES, chain(40), "nested more than 32 deep with aliases (line 32)"),
        (RULES, "[" * 50_000, "nested more than 32 deep"),
        ("AIUSAGE_PRICES", "tools: " + "{a: " * 5_000, "nested more than 32 deep"),
    ],
)
def test_a_yaml_bomb_stops_start_up_with_one_line(
    settings, monkeypatch, capsys, tmp_path, variable, text, words
):
    # Aliases cost nothing to write and, expanded by whatever walks the values, 9**9 of
    # them are a billion; a file nested 50,000 deep ended start-up in a RecursionError.
    path = tmp_path / "bomb.yml"
    path.write_text(text)
    err = stops_with_one_line(monkeypatch, capsys, variable, str(path))
    assert words in err


def test_anchors_and_merge_keys_within_reason_are_still_read(
    settings, monkeypatch, capsys, tmp_path
):
    path = tmp_path / "rules.yml"
    path.write_text(
        "categories:\n"
        "  steady: &strict {min_active_days: 4, min_work: 40}\n"
        "  improvement: {<<: *strict, min_previous_weeks: 2}\n"
        "  shipped: *strict\n"
    )
    monkeypatch.setenv(RULES, str(path))
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().err == ""

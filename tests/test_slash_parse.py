"""Parsing the text after `/aiusage`."""

from __future__ import annotations

import pytest

from bot.slack.command_text import (
    MAX_TEXT,
    Badges,
    Help,
    Me,
    OptIn,
    OptOut,
    Restore,
    Retire,
    Status,
    TooLong,
    Top,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Me()),
        ("   ", Me()),
        ("me", Me()),
        (" ME ", Me()),
        ("top", Top()),
        ("badges", Badges()),
        ("optout", OptOut()),
        ("optin", OptIn()),
        ("help", Help()),
        ("restore", Restore()),
        ("status", Status()),
        ("retire  We stop the board.\nThanks all.", Retire("We stop the board.\nThanks all.")),
        ("retire", Retire("")),
        ("retire   ", Retire("")),
        ("restore Welcome back!", Restore("Welcome back!")),
        ("top 10", Help(unknown="top 10")),
        ("leaderboard", Help(unknown="leaderboard")),
        ("<!channel>", Help(unknown="<!channel>")),
        ("me\x00", Help(unknown="me\x00")),
        ("\u202eme", Help(unknown="\u202eme")),
    ],
)
def test_parse(text, expected):
    assert parse_command(text) == expected


def test_very_long_text_is_help():
    assert isinstance(parse_command("me " + "x" * MAX_TEXT), Help)


def test_an_announcement_or_note_past_the_limit_is_too_long_not_unknown():
    assert parse_command("retire " + "x" * MAX_TEXT) == Retire("x" * MAX_TEXT)
    assert parse_command("Retire  " + "x" * (MAX_TEXT + 1)) == TooLong("retire", MAX_TEXT + 1)
    assert parse_command("restore " + "y" * 3000 + " ") == TooLong("restore", 3000)

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

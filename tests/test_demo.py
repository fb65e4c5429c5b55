"""`aiusage demo` runs offline in seconds and leaves the configured database alone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from freezegun import freeze_time
from PIL import Image

from bot.cli.main import main
from storage.integrations import list_integrations

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


@pytest.mark.parametrize("moment", ["2026-11-18 12:00", "2026-11-23 00:00:30"])
def test_the_demo_walks_through_usage_me_and_top(db, capsys, caplog, moment):
    with freeze_time(moment, tick=True):  # midweek, and the first minute of a week
        assert main(["demo"]) == 0
    out = capsys.readouterr().out
    # Bolt's warning that it skips a token we hand it on purpose is noise, as it is in serve;
    # the demo printed it (Python's last-resort handler writes a warning nobody handles).
    assert not [r.getMessage() for r in caplog.records if "`token`" in r.getMessage()]
    assert "== 1. Usage arrives through the ingestion API" in out
    assert "dee@example.com -> dee (UDEE)" in out
    assert "ada types /aiusage me" in out and "Requests:" in out and "Tokens:" in out
    assert "1. @ada:" in out
    after_optout = out.split("chen types /aiusage top")[1]
    assert "@ben" not in after_optout  # opted out, so never shown
    # The weekly award post, then the retirement: refused for ben, previewed, confirmed.
    assert "== 7. The weekly award post" in out and "AI badges for week" in out
    assert "/aiusage retire is for admins" in out
    assert "[Retire and post]  [Cancel]" in out
    assert "The announcement:\n• #CAWARDS: posted" in out
    after_retiring = out.split("chen types /aiusage top")[-1]
    assert "Leaderboard retired" in after_retiring and "by @ada" in after_retiring
    assert "1. @ada" not in after_retiring
    # The App Home as text, and its chart written where the demo says.
    home = out.split("== 12. ada opens the aiusage app's Home tab")[1]
    assert "Only you can see this tab" in home and "[Turn the digest on]" in home
    assert "The leaderboard is retired" in home and "[Open the org view]" in home
    [chart] = re.findall(r"The chart image Slack would fetch: (\S+\.png)", home)
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.size == (800, 700)
    shutil.rmtree(Path(chart).parent)
    assert "To run it for real" in out
    assert list_integrations(db) == []  # the configured database was not touched

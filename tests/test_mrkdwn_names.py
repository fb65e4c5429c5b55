"""Names an integration or a team file chooses, holding mrkdwn's emphasis marks, shown as
typed in `/aiusage me`, the App Home, the weekly digest and `/aiusage org`: Slack has no
escape for `*`, `_`, `~` and backticks, so `*zebra*` from a vendor was shown bold."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient

from bot.cli.main import main
from bot.settings import load_settings
from bot.slack.notifier import DirectMessageNotifier
from jobs.digest import send_digests
from tests.builders import event
from tests.home.helpers import ingest, open_home
from tests.slack_command_helpers import text_of
from tests.slack_fixtures import BOT_TOKEN

TOOLS = ["*zebra*", "_yak_", "~xylo~", "`quux`", "a *b* `c", "claude_code"]
# Each a mark beside a word's edge, as Slack would read it: none may reach Slack.
MARKED = ("*zebra", "zebra*", "_yak", "yak_", "~xylo", "xylo~", "`quux", "quux`", "*b", "b*", "`c")
PEOPLE = [f"UP{i}" for i in range(1, 6)]


def names_shown_as_typed(text: str) -> None:
    for word in ("zebra", "yak", "xylo", "quux", "claude_code"):
        assert word in text, word
    assert [marked for marked in MARKED if marked in text] == []


def use_every_tool(slack, api_key, user: str, day: str = "2026-11-17") -> None:
    ingest(
        slack,
        api_key,
        *[
            event(user={"slack_user_id": user}, tool=tool, occurred_at=f"{day}T10:00:00Z")
            for tool in TOOLS
        ],
    )


def test_me_and_the_home_show_a_vendors_marks_as_typed(slack, api_key):
    use_every_tool(slack, api_key, "UALICE")
    names_shown_as_typed(text_of(slack.ask("me")))
    names_shown_as_typed(text_of(open_home(slack)))


def test_the_digest_shows_a_vendors_marks_as_typed(slack, api_key, db, now):
    use_every_tool(slack, api_key, "UALICE", day="2026-10-27")
    slack.ask("digest on")
    client = WebClient(token=BOT_TOKEN, base_url=slack.fake.api_url)
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    [sent] = send_digests(
        db, DirectMessageNotifier(client), ZoneInfo("UTC"), "0 9 * * mon", lambda: moment
    )
    assert sent.status == "posted"
    [message] = slack.fake.messages["UALICE"]
    names_shown_as_typed(text_of(message))


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    return load_settings()


@pytest.fixture
def org_usage(slack, api_key, tmp_path, capsys):
    for user in PEOPLE:
        use_every_tool(slack, api_key, user)
    teams = tmp_path / "teams.csv"
    teams.write_text("team,member\n" + "".join(f'"_yak_ *zebra*",{u}\n' for u in PEOPLE))
    assert main(["teams", "import", str(teams)]) == 0
    capsys.readouterr()


def test_org_shows_tool_and_team_names_with_marks_as_typed(slack, org_usage, fake_slack):
    fake_slack.add_user("UADMIN", name="ada", tz="UTC")
    names_shown_as_typed(text_of(slack.ask("org", user_id="UADMIN")))
    text = text_of(slack.ask("org _yak_ *zebra*", user_id="UADMIN"))
    assert "For team" in text and "yak" in text and "zebra" in text
    assert [marked for marked in MARKED if marked in text] == []
    text = text_of(slack.ask("org ~xylo~", user_id="UADMIN"))
    assert "There is no team called" in text and "xylo" in text and "~xylo" not in text


# Names Slack would render as an emoji or a link, and ordinary ones it would not.
LINKY = ["https://evil.example/x", "www.example.com", "claude.ai", ":fire: hot", "ok:b:c:d"]
LINKY += ["bob@corp.example", "gpt-4.1", "Cursor 1.2", "12:30"]
# None of these may reach Slack: each would be a link, a mailto link or an emoji.
RENDERED = ("://", "www.example.com", "evil.example", "claude.ai", ":fire:", ":b:", ":c:")
RENDERED += ("corp.example",)
EMOJI = re.compile(r":[\w+'-]+:")


def links_and_emoji_shown_as_typed(text: str) -> None:
    for word in ("evil", "example", "claude", "fire", "corp", "gpt-4.1", "Cursor 1.2"):
        assert word in text, word
    # `12:30` before our own `: ` would read `:30:`: its colon is a look-alike (U+2236).
    assert "12\u223630" in text
    assert [rendered for rendered in RENDERED if rendered in text] == []


def tool_lines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.startswith("•"))


def test_me_and_the_home_show_links_and_emoji_codes_in_names_as_typed(slack, api_key):
    at = "2026-11-17T10:00:00Z"
    ingest(
        slack,
        api_key,
        *[event(user={"slack_user_id": "UALICE"}, tool=t, occurred_at=at) for t in LINKY],
    )
    me = text_of(slack.ask("me"))
    links_and_emoji_shown_as_typed(me)
    assert EMOJI.findall(tool_lines(me)) == []
    links_and_emoji_shown_as_typed(text_of(open_home(slack)))


def test_org_shows_a_team_named_like_a_link_or_an_emoji_as_typed(
    slack, api_key, tmp_path, capsys, fake_slack
):
    for user in PEOPLE:
        at = "2026-11-17T10:00:00Z"
        ingest(
            slack,
            api_key,
            *[event(user={"slack_user_id": user}, tool=t, occurred_at=at) for t in LINKY],
        )
    teams = tmp_path / "teams.csv"
    teams.write_text("team,member\n" + "".join(f'":fire: claude.ai",{u}\n' for u in PEOPLE))
    assert main(["teams", "import", str(teams)]) == 0
    capsys.readouterr()
    fake_slack.add_user("UADMIN", name="ada", tz="UTC")
    links_and_emoji_shown_as_typed(text_of(slack.ask("org", user_id="UADMIN")))
    text = text_of(slack.ask("org :fire: claude.ai", user_id="UADMIN"))
    assert "For team" in text and "fire" in text and ":fire:" not in text
    assert "claude.ai" not in text

"""`aiusage admin retire|restore|status` for operators' scripts: the same rules, the same
exactly-once announcement and the same audit trail as in Slack."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from bot.cli.main import main
from bot.demo.fake_slack import FakeSlack
from bot.settings import load_settings
from storage.admin import audit_log
from storage.leaderboard import leaderboard_state


@pytest.fixture
def fake():
    server = FakeSlack().start()
    server.add_user("UOLIVE", name="olive", is_owner=True)
    server.add_user("UALICE", name="alice")
    yield server
    server.stop()


@pytest.fixture
def settings(settings, fake, monkeypatch):
    """A bot token, the fake Slack, one configured admin and two award channels."""
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS,CGENERAL")
    return load_settings()


@pytest.fixture(autouse=True)
def frozen(now):
    with freeze_time(now, tick=True):
        yield


def test_retire_posts_the_announcement_once_and_is_audited(settings, db, fake, capsys):
    args = ["admin", "retire", "--announcement", "Thanks <!channel>.", "--by", "UADMIN"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Retired the leaderboard (retirement 1) as UADMIN." in out
    assert "  CAWARDS: posted " in out and "  CGENERAL: posted " in out
    assert "Thanks &lt;!channel&gt;." in fake.messages["CAWARDS"][0]["text"]
    assert leaderboard_state(db).changed_by == "UADMIN"

    assert main(args) == 1  # a script run twice does not announce twice
    assert "already retired since 2026-11-18 12:00 (UTC) by UADMIN" in capsys.readouterr().err
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert [(e.action, e.outcome, e.detail.split(":")[0]) for e in audit_log(db)] == [
        ("retire", "pending", "via cli"),
        ("retire-confirm", "done", "via cli"),
        ("retire", "already", "via cli"),
    ]


def test_a_non_admin_is_refused_audited_and_nothing_changes(settings, db, fake, capsys):
    assert main(["admin", "retire", "--announcement", "Bye", "--by", "UALICE"]) == 1
    err = capsys.readouterr().err
    assert "UALICE is not an admin" in err and "AIUSAGE_ADMINS (UADMIN)" in err
    assert main(["admin", "restore", "--by", "UALICE"]) == 1
    assert not leaderboard_state(db).retired
    assert fake.calls_to("chat.postMessage") == []
    assert [(e.actor, e.action, e.outcome) for e in audit_log(db)] == [
        ("UALICE", "retire", "refused"),
        ("UALICE", "restore", "refused"),
    ]


def test_a_workspace_owner_is_an_admin_unless_that_is_turned_off(
    settings, db, fake, capsys, monkeypatch
):
    monkeypatch.setenv("AIUSAGE_WORKSPACE_ADMINS", "false")
    assert main(["admin", "retire", "--announcement", "Bye", "--by", "UOLIVE"]) == 1
    assert fake.calls_to("users.info") == []  # not asked: it would not count
    monkeypatch.setenv("AIUSAGE_WORKSPACE_ADMINS", "true")
    assert main(["admin", "retire", "--announcement", "Bye", "--by", "UOLIVE"]) == 0
    assert [c.params["user"] for c in fake.calls_to("users.info")] == ["UOLIVE"]
    assert leaderboard_state(db).changed_by == "UOLIVE"


def test_without_a_bot_token_retire_refuses_rather_than_retire_silently(
    settings, db, capsys, monkeypatch
):
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    assert main(["admin", "retire", "--announcement", "Bye", "--by", "UADMIN"]) == 2
    assert "SLACK_BOT_TOKEN: needed to post the announcement" in capsys.readouterr().err
    assert not leaderboard_state(db).retired


def test_restore_and_status_and_the_audit_log(settings, db, fake, capsys):
    assert main(["admin", "restore", "--by", "UADMIN"]) == 1
    assert "not retired" in capsys.readouterr().err
    main(["admin", "retire", "--announcement", "Bye", "--by", "UADMIN"])
    capsys.readouterr()

    assert main(["admin", "status"]) == 0
    out = capsys.readouterr().out
    assert "State: retired since 2026-11-18 12:00 (UTC) by UADMIN" in out
    assert "Schedule: 0 9 * * mon (UTC); paused while retired" in out
    assert "Award channels: CAWARDS, CGENERAL" in out
    assert "Integrity flags this week (2026-W47): 0" in out

    assert main(["admin", "restore", "--by", "UADMIN", "--note", "Back again"]) == 0
    out = capsys.readouterr().out
    assert "Restored the leaderboard as UADMIN; awards resume with 2026-W47." in out
    assert "  CAWARDS: posted " in out
    assert main(["admin", "status", "--by", "UADMIN"]) == 0
    out = capsys.readouterr().out
    assert (
        "State: active (restored since 2026-11-18 12:00 (UTC) by UADMIN, "
        "awards from the week of 2026-11-16)"
    ) in out
    assert "next run 2026-11-23 09:00 (UTC), awarding week 2026-W47" in out

    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    for line in (
        "UADMIN       restore          already",
        "UADMIN       retire-confirm   done",
        "operator     status           done",
        "UADMIN       restore          done       via cli: awards resume with 2026-W47",
    ):
        assert line in out


# users.info cannot say whether Olive owns the workspace: Slack refuses our token, or
# answers 503 through the client's retries. Nothing about her.
NOT_SAID = {
    "missing_scope": {"error": "missing_scope", "body": {"needed": "users:read"}},
    "invalid_auth": {"error": "invalid_auth"},
    "503": {"status": 503, "times": 4},
}


@pytest.mark.parametrize("answer", list(NOT_SAID))
def test_a_workspace_owner_slack_cannot_vouch_for_is_not_refused_in_the_audit(
    answer, settings, db, fake, capsys
):
    """Slack's refusal of our token is no word on Olive: she is not told she is no admin,
    and no refusal she never earned is audited; nothing changes, and once Slack answers,
    the same command goes through."""
    fake.fail("users.info", **NOT_SAID[answer])
    args = ["admin", "retire", "--announcement", "Bye", "--by", "UOLIVE"]

    assert main(args) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("aiusage: Slack could not say whether UOLIVE is a workspace admin"), line
    assert answer in line and line.endswith("Nothing was changed."), line
    if answer == "missing_scope":
        assert "users:read scope" in line, line
    assert "not an admin" not in line
    assert audit_log(db) == [] and not leaderboard_state(db).retired

    fake.heal("users.info")
    assert main(args) == 0
    assert leaderboard_state(db).changed_by == "UOLIVE"


@pytest.mark.parametrize(
    "text",
    ["Bye\x1b[2J all", "ring\x07", "del\x7f", "\u202eesrever", "x" * 2001],
    ids=["escape", "bell", "del", "bidi-override", "too-long"],
)
def test_an_announcement_slack_would_refuse_is_refused_by_the_cli_too(
    text, settings, db, fake, capsys
):
    """`/aiusage retire` takes no control character (newlines and tabs aside), no
    bidirectional override and nothing past 2,000 characters; the CLI posted them all."""
    assert main(["admin", "retire", "--announcement", text, "--by", "UADMIN"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aiusage: --announcement: ") and err.count("\n") == 1
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert not leaderboard_state(db).retired
    assert fake.calls == [] and audit_log(db) == []


def test_a_restore_note_slack_would_refuse_is_refused_by_the_cli_too(settings, db, fake, capsys):
    assert main(["admin", "retire", "--announcement", "Bye", "--by", "UADMIN"]) == 0
    posted = len(fake.calls_to("chat.postMessage"))
    assert main(["admin", "restore", "--note", "Back\x1b]0;x\x07", "--by", "UADMIN"]) == 2
    assert capsys.readouterr().err.startswith("aiusage: --note: ")
    assert leaderboard_state(db).retired
    assert len(fake.calls_to("chat.postMessage")) == posted


def test_newlines_tabs_and_slack_markup_in_an_announcement_are_posted_inert(
    settings, db, fake, capsys
):
    """As from Slack: `<!channel>`, `<!here>`, `<@U…>` and `<https://…|…>` are shown as
    typed, never as a mention or a hidden link; newlines and tabs are kept."""
    text = "Thanks <!channel> <!here> <@UALICE>\n\tsee <https://evil.example|the wiki>"
    assert main(["admin", "retire", "--announcement", text, "--by", "UADMIN"]) == 0
    [message] = fake.messages["CAWARDS"]
    assert "<!" not in str(message) and "<@" not in str(message) and "<http" not in str(message)
    assert "&lt;https://evil.example|the wiki&gt;" in message["text"]
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@UALICE&gt;\n\tsee" in message["text"]

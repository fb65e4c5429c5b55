"""`/aiusage org [TEAM]` end to end: signed commands into the real endpoint, teams from the
real CLI, figures checked against a fixture computed by hand, and the group-size rule under
attack (a team of four, two teams one person apart, a one-week window)."""

from __future__ import annotations

import itertools
import time
from datetime import datetime

import pytest
from freezegun import freeze_time
from sqlalchemy import insert

from bot.cli.main import main
from bot.composition import award_config
from bot.settings import load_settings
from jobs.awards import scan_current_week
from storage.admin import audit_log
from storage.events import record_events
from storage.integrations import create_integration
from storage.models import IntegrityFlagRow
from storage.people import link_email
from storage.records import UsageEvent, UserRef
from tests.slack_command_helpers import text_of

HOSTILE = "<!channel> =SUM(1) <@UADMIN>"
PRICES = """\
tools:
  cursor:
    input_per_million: 2.0
    output_per_million: 10.0
  copilot:
    seat_per_month: 30.4375   # exactly $7 per person-week
"""
A = [f"UA{i}" for i in range(1, 7)]  # team platform, claude-code
B = [f"UB{i}" for i in range(1, 5)]  # team four, claude-code, in the team file by email
C = [f"UC{i}" for i in range(1, 6)]  # the hostile team, copilot and cursor, by vendor login
D = ["UD1", "UD2"]  # in no team, claude-code
_ids = itertools.count(1)


@pytest.fixture
def slack_settings(slack_settings, monkeypatch, tmp_path):
    """An admin, an insight viewer, and a price list."""
    prices = tmp_path / "prices.yml"
    prices.write_text(PRICES)
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    monkeypatch.setenv("AIUSAGE_INSIGHT_VIEWERS", "UVIEW")
    monkeypatch.setenv("AIUSAGE_PRICES", str(prices))
    return load_settings()


@pytest.fixture(autouse=True)
def callers(fake_slack):
    fake_slack.add_user("UADMIN", name="ada", tz="Europe/London")
    fake_slack.add_user("UVIEW", name="vic", tz="UTC")
    fake_slack.add_user("UOWNER", name="olive", tz="UTC", is_owner=True)


def use(user: str, day: str, tool: str, **figures) -> UsageEvent:
    return UsageEvent(
        event_id=f"e{next(_ids)}",
        user=UserRef(slack_user_id=user),
        occurred_at=datetime.fromisoformat(f"{day}T10:00:00+00:00"),
        tool=tool,
        **figures,
    )


def claude(user: str, day: str = "2026-11-17") -> UsageEvent:
    return use(user, day, "claude-code", requests=2, input_tokens=1000, output_tokens=100,
               cost_usd=0.5)  # fmt: skip


@pytest.fixture
def usage(db, now, tmp_path, capsys):
    """Week 2026-W47 (this week) as described above; last week only A1..A3 and the C team."""
    integration, _ = create_integration(db, "seed", now)
    events = [claude(u) for u in A + B + D]
    for u in C:
        events.append(use(u, "2026-11-17", "copilot", requests=10, suggestions_shown=10,
                          suggestions_accepted=4, lines_accepted=20, input_tokens=0,
                          output_tokens=0))  # fmt: skip
        events.append(use(u, "2026-11-16", "cursor", requests=1, input_tokens=500,
                          output_tokens=50))  # fmt: skip
    events += [claude(u, "2026-11-10") for u in A[:3]]
    events += [use(u, "2026-11-10", "cursor", input_tokens=500, output_tokens=50) for u in C]
    record_events(db, integration.id, events, now)
    for i, u in enumerate(B, start=1):
        link_email(db, f"b{i}@example.com", u, now)
    for i, u in enumerate(C, start=1):
        assert main(["people", "link", f"copilot:c{i}", u]) == 0
    rows = ["team,member"]
    rows += [f"platform,{u}" for u in A]
    rows += [f"four,b{i}@example.com" for i in range(1, 5)]
    rows += [f'"{HOSTILE}",copilot:c{i}' for i in range(1, 6)]
    teams = tmp_path / "teams.csv"
    teams.write_text("\n".join(rows) + "\n")
    assert main(["teams", "import", str(teams)]) == 0
    capsys.readouterr()


def lines(reply) -> list[str]:
    return text_of(reply).splitlines()


def line_with(reply, start: str) -> str:
    [found] = [line for line in lines(reply) if line.startswith(start)]
    return found


def test_an_admin_sees_the_hand_computed_figures_by_tool_and_team(slack, usage):
    reply = slack.ask("org", user_id="UADMIN")
    assert reply["response_type"] == "ephemeral"
    text = text_of(reply)
    assert "AI cost and efficiency, week 2026-W47" in text
    # 17 people; claude-code 12 x (2 requests, 1,100 tokens, $0.50); C: 5 x (11 requests,
    # 550 tokens, $7 seat + $0.0015 of cursor tokens, estimated).
    assert "*17 people with usage, 79 requests, 15,950 tokens, $41.01†*" in text
    assert "$2.41† per active person" in text
    assert line_with(reply, "• *claude-code*") == (
        "• *claude-code*: 12 people with usage, 24 requests, 13,200 tokens, $6.00, "
        "$0.50 per active person"
    )
    assert line_with(reply, "• *copilot*") == (
        "• *copilot*: 5 people with usage, 50 requests, 0 tokens, $35.00†, "
        "$7.00† per active person, 40% of suggestions accepted"
    )
    assert line_with(reply, "• *platform*") == (
        "• *platform*: 6 of 6 people with usage, 12 requests, 6,600 tokens, $3.00, "
        "$0.50 per active person"
    )
    hostile = line_with(reply, "• *&lt;!channel&gt; =SUM(1) &lt;@UADMIN&gt;*")
    assert "5 of 5 people with usage, 55 requests, 2,750 tokens, $35.01†" in hostile
    assert "7,272.7 accepted per M tokens" in hostile and "36,363.6 lines per M tokens" in hostile
    # The team of four is summed with the two people in no team, never shown alone.
    assert line_with(reply, "• _other teams_") == (
        "• _other teams_: 6 people with usage, 12 requests, 6,600 tokens, $3.00, "
        "$0.50 per active person"
    )
    assert "four" not in text
    assert "No usage this week was judged scripted or wasteful." in text
    assert "<!channel>" not in str(reply) and "<@UA" not in str(reply)


SET_ASIDE = (
    "Some usage this week was judged scripted or wasteful: it is set aside, not ranked, not "
    "named, and no figure of it is shown, as it would describe fewer than 5 people."
)


def test_one_persons_flagged_usage_is_set_aside_without_a_figure_or_a_name(slack, usage, db, now):
    """A share of tokens of one person beside the total would be their tokens (to 1%)."""
    with db.write() as conn:
        person = conn.execute(db_select_person("UA1")).scalar_one()
        conn.execute(
            insert(IntegrityFlagRow).values(
                person_id=person, week_start=datetime(2026, 11, 16).date(), signal="burst",
                detail="UA1 sent 900 requests in a minute", computed_at=now,
            )
        )  # fmt: skip
    text = text_of(slack.ask("org", user_id="UVIEW"))
    assert SET_ASIDE in text
    assert "1 person" not in text and "7%" not in text and "6%" not in text
    assert "UA1" not in text and "900" not in text


def test_shipped_work_the_tokens_cannot_explain_counts_as_scripted(
    slack, usage, db, now, slack_settings
):
    # UA1's script reports 30 commits on top of its 1,100 tokens; the hourly scan judges it
    integration, _ = create_integration(db, "commit-bot", now)
    record_events(db, integration.id, [use("UA1", "2026-11-17", "claude-code", commits=30,
                                           input_tokens=0, output_tokens=0)], now)  # fmt: skip
    scan_current_week(db, award_config(slack_settings), now)
    text = text_of(slack.ask("org", user_id="UVIEW"))
    assert SET_ASIDE in text  # one person's: no figure
    assert "UA1" not in text


def db_select_person(slack_user_id):
    from sqlalchemy import select

    from storage.models import PersonRow

    return select(PersonRow.id).where(PersonRow.slack_user_id == slack_user_id)


def test_a_team_view_shows_its_tools_and_the_weeks_it_was_big_enough(slack, usage):
    reply = slack.ask("org PLATFORM", user_id="UVIEW")  # case does not matter
    text = text_of(reply)
    assert "For team platform, this week so far." in text
    assert "*6 people with usage, 12 requests, 6,600 tokens, $3.00*" in text
    assert "By team" not in text
    # Last week only three of platform used anything: that week is not shown, nor the
    # ten before it, with no usage at all.
    assert "(11 weeks too small to show count as 0)" in text
    assert "Last week (2026-W46): too few people to show." in text


def test_the_trend_has_last_week_summed_by_the_database(slack, usage):
    text = text_of(slack.ask("org", user_id="UADMIN"))
    # A1..A3 on claude-code, the five of C on cursor (priced: 5 x $0.0015).
    assert "(10 weeks too small to show count as 0)" in text
    assert "Last week (2026-W46): 8 people with usage, 11 requests, 6,050 tokens, $1.51†." in text


def test_a_team_of_four_is_refused_and_so_is_the_hostile_name_echo(slack, usage):
    text = text_of(slack.ask("org four", user_id="UADMIN"))
    assert "Team “four” cannot be shown this week" in text
    assert "fewer than 5 people" in text
    text = text_of(slack.ask("org <!channel>", user_id="UADMIN"))
    assert "There is no team called “&lt;!channel&gt;”" in text


def test_a_team_named_with_slacks_control_characters_is_found_as_slack_sends_its_name(slack, usage):
    # Slack sends `&`, `<` and `>` of a command's text as `&amp;`, `&lt;` and `&gt;`: the
    # team was looked for under its escaped name and never found.
    typed = HOSTILE.replace("<", "&lt;").replace(">", "&gt;")
    text = text_of(slack.ask(f"org {typed}", user_id="UADMIN"))
    assert "For team &lt;!channel&gt; =SUM(1) &lt;@UADMIN&gt;, this week so far." in text
    text = text_of(slack.ask("org R&amp;D", user_id="UADMIN"))
    assert "There is no team called “R&amp;D”" in text


def test_two_teams_one_person_apart_cannot_both_be_had(slack, usage, tmp_path, capsys):
    teams = tmp_path / "overlap.csv"
    rows = ["team,member", *[f"platform,{u}" for u in A], *[f"nearly,{u}" for u in A[:5]]]
    teams.write_text("\n".join(rows) + "\n")
    with freeze_time("2026-11-15T12:00:00Z"):  # named before this week began: it counts
        assert main(["teams", "import", str(teams)]) == 0
    whole = slack.ask("org platform", user_id="UADMIN")
    nearly = slack.ask("org nearly", user_id="UADMIN")
    shown = [r for r in (whole, nearly) if "cannot be shown" not in text_of(r)]
    assert len(shown) == 1  # platform minus nearly would be UA6 alone
    assert "platform" in text_of(shown[0])
    org = text_of(slack.ask("org", user_id="UADMIN"))
    assert "*nearly*" not in org and "*platform*" in org


def test_a_week_with_fewer_people_than_the_minimum_shows_nothing(slack, usage, monkeypatch):
    slack.services.settings = load_settings(AIUSAGE_MIN_GROUP_SIZE=18)
    text = text_of(slack.ask("org", user_id="UADMIN"))
    assert "Nothing to show this week: fewer than 18 people" in text


def test_everyone_else_is_refused_politely_and_audited(slack, usage, db):
    for user in ("UALICE", "UBOB"):
        text = text_of(slack.ask("org", user_id=user))
        assert "`/aiusage org` is for admins and the people listed in AIUSAGE_INSIGHT_VIEWERS" in (
            text
        )
        assert "17" not in text
    assert "AI cost" in text_of(slack.ask("org", user_id="UOWNER"))  # a workspace owner
    entries = [(e.actor, e.action, e.outcome) for e in audit_log(db) if e.action == "org"]
    assert entries == [
        ("UALICE", "org", "refused"),
        ("UBOB", "org", "refused"),
        ("UOWNER", "org", "shown"),
    ]


def test_the_reply_is_private_and_comes_after_the_ack(slack, usage):
    response = slack.command("org", user_id="UADMIN", response_url="late")
    assert response.status_code == 200 and response.content == b""
    [posted] = slack.fake.wait_for("response_url")
    assert posted.params["response_type"] == "ephemeral"


def test_the_trend_chart_is_uploaded_once_and_shown_by_file_id(slack, usage):
    reply = slack.ask("org", user_id="UADMIN")
    [image] = [b for b in reply["blocks"] if b["type"] == "image"]
    [stored] = slack.fake.files.values()
    assert image["slack_file"] == {"id": stored["id"]}
    assert stored["content"].startswith(b"\x89PNG\r\n\x1a\n") and stored["channels"] == []
    assert image["alt_text"].startswith("Cost and efficiency for the organisation, 2026-W36")
    assert "<!channel>" not in image["alt_text"]
    assert "Cost: `" in text_of(reply)  # the text trend is there too
    slack.ask("org", user_id="UVIEW")
    assert len(slack.fake.calls_to("file_upload")) == 1  # same figures, same image
    # New figures: a new image, and the one it replaces is deleted.
    slack.services.settings = load_settings(AIUSAGE_MIN_GROUP_SIZE=4)
    again = slack.ask("org", user_id="UADMIN")
    [image] = [b for b in again["blocks"] if b["type"] == "image"]
    assert list(slack.fake.files) == [image["slack_file"]["id"]] != [stored["id"]]
    assert [c.params["file"] for c in slack.fake.calls_to("files.delete")] == [stored["id"]]


def test_when_the_upload_fails_the_reply_keeps_the_text_trend(slack, usage):
    slack.fake.fail("files.getUploadURLExternal", error="missing_scope")
    reply = slack.ask("org", user_id="UADMIN")
    assert not [b for b in reply["blocks"] if b["type"] == "image"]
    assert "*Last 12 weeks* (2026-W36 to 2026-W47)" in text_of(reply)


def test_a_rate_limited_upload_gets_the_text_trend_at_once_not_after_retry_after(slack, usage):
    slack.fake.fail("files.getUploadURLExternal", status=429, retry_after=30, times=5)
    started = time.monotonic()
    reply = slack.ask("org", user_id="UADMIN")
    # Well before Slack's 30 s: the after-ack thread did not sleep it out.
    assert time.monotonic() - started < 10
    assert not [b for b in reply["blocks"] if b["type"] == "image"]
    assert "*Last 12 weeks* (2026-W36 to 2026-W47)" in text_of(reply)
    assert len(slack.fake.calls_to("files.getUploadURLExternal")) == 1


def test_new_usage_shows_within_a_minute_new_teams_at_once_and_a_team_gone_next_week(
    slack, usage, db, now, tmp_path
):
    from datetime import timedelta

    assert "*17 people with usage" in text_of(slack.ask("org", user_id="UADMIN"))
    integration, _ = create_integration(db, "later", now)
    record_events(db, integration.id, [claude("UNEW")], now)
    assert "*17 people with usage" in text_of(slack.ask("org", user_id="UADMIN"))
    slack.move_to(now + timedelta(seconds=120))
    # The minute-old figures answer once more while fresh ones are read in the background.
    for _ in range(100):
        if "*18 people with usage" in text_of(slack.ask("org", user_id="UADMIN")):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("new usage never showed")
    teams = tmp_path / "only.csv"
    teams.write_text("team,member\n" + "".join(f"solo,{u}\n" for u in A[:4]))
    assert main(["teams", "import", str(teams)]) == 0
    text = text_of(slack.ask("org", user_id="UADMIN"))
    # Solo, never seen before, counts at once (and folds: four people); platform, gone from
    # the file, keeps the members it started this week with until the week is over.
    assert "*platform*" in text and "solo" not in text


def test_as_of_says_when_the_figures_were_read_and_day_old_ones_are_read_again(
    slack, usage, db, now
):
    """An admin who asks once a day sees today's figures, not the last ones somebody read."""
    from datetime import timedelta

    def as_of(reply) -> str:
        return line_with(reply, "As of ").split(" your time")[0]

    first = slack.ask("org", user_id="UADMIN")  # UADMIN's zone is Europe/London: UTC now
    assert "*17 people with usage" in text_of(first)
    assert as_of(first) == "As of Wed 18 Nov, 12:00"
    integration, _ = create_integration(db, "later", now)
    record_events(db, integration.id, [claude("UNEW")], now)

    # Five minutes on, the figures read at 12:00 still answer, and say they are from 12:00.
    slack.move_to(now + timedelta(minutes=5))
    soon = slack.ask("org", user_id="UADMIN")
    assert "*17 people with usage" in text_of(soon)
    assert as_of(soon) == "As of Wed 18 Nov, 12:00"

    for _ in range(100):  # meanwhile they were read again in the background
        if "*18 people with usage" in text_of(slack.ask("org", user_id="UADMIN")):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("new usage never showed")

    # The next morning nobody has asked since: the figures are read before answering.
    slack.move_to(now + timedelta(hours=20))
    record_events(db, integration.id, [claude("UNEWER")], now)
    morning = slack.ask("org", user_id="UADMIN")
    assert "*19 people with usage" in text_of(morning)
    assert as_of(morning) == "As of Thu 19 Nov, 08:00"


def test_a_member_leaving_a_team_shows_from_next_week_never_in_weeks_before(
    slack, usage, db, now, tmp_path, capsys
):
    """Platform's six all used claude-code last week, UA1 1,000 requests more. UA1 leaves it
    on Wednesday: platform's last week, and this week, are still summed over all six, so two
    views cannot be subtracted down to UA1's week."""
    integration, _ = create_integration(db, "w46", now)
    events = [claude(u, "2026-11-10") for u in A[3:]]
    events.append(use(A[0], "2026-11-11", "claude-code", requests=1000))
    record_events(db, integration.id, events, now)
    before = slack.ask("org platform", user_id="UADMIN")
    last_week = line_with(before, "Last week (2026-W46)")
    assert "6 people with usage, 1,012 requests" in last_week
    rows = ["team,member", *[f"platform,{u}" for u in A[1:]]]
    rows += [f"four,b{i}@example.com" for i in range(1, 5)]
    rows += [f'"{HOSTILE}",copilot:c{i}' for i in range(1, 6)]
    teams = tmp_path / "teams.csv"
    teams.write_text("\n".join(rows) + "\n")
    assert main(["teams", "import", str(teams)]) == 0
    after = slack.ask("org platform", user_id="UADMIN")
    assert line_with(after, "Last week (2026-W46)") == last_week
    assert "*6 people with usage, 12 requests, 6,600 tokens, $3.00*" in text_of(after)
    org = slack.ask("org", user_id="UADMIN")
    assert "6 of 6 people with usage, 12 requests" in line_with(org, "• *platform*")
    # From next week on, platform is the five who are in it.
    record_events(db, integration.id, [claude(u, "2026-11-23") for u in A + B + D], now)
    slack.move_to(datetime.fromisoformat("2026-11-23T12:00:00+00:00"))
    next_week = slack.ask("org", user_id="UADMIN")
    assert "5 of 5 people with usage" in line_with(next_week, "• *platform*")

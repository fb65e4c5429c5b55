"""Who the app answers: members of the workspace its bot token belongs to. Strangers (another
workspace over Slack Connect, someone Slack does not know, the deleted, bots) are refused and
never stored; guests see their own figures only; someone Slack cannot vouch for is asked to
try again."""

from __future__ import annotations

import time

import pytest

from bot.demo.signed_requests import app_home_opened, block_actions, slash_command
from bot.slack.views.admin import CONFIRM_ACTION
from storage.profiles import find_slack_profile, save_slack_profile
from tests.slack_command_helpers import THIS_MONDAY, ingest, text_of, worked
from tests.slack_requests import signed_headers

pytestmark = pytest.mark.one_database

OTHER_TEAM = "TOTHERCO"
ONLY_MEMBERS = "only members of this workspace"


def ask_as(slack, text, user_id, *, team_id=None, name="stranger"):
    """`/aiusage text` from `user_id`, optionally signed with another team in the payload,
    as Slack sends a command from another organisation's member in a Slack Connect channel."""
    body = slash_command(text, user_id=user_id, response_url=slack.fake.response_url(name))
    if team_id is not None:
        body = body.replace("team_id=T0001", f"team_id={team_id}")
    response = slack.post(body)
    assert response.status_code == 200, response.text
    if response.content:
        return response.json()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if posted := slack.responses(name):
            return posted[0]
        time.sleep(0.01)
    raise AssertionError(f"no reply to {text!r}")


def add_outsider(slack, user_id="UMALLORY", **fields):
    """Someone `users.info` answers for, as a member of another organisation unless told."""
    slack.fake.add_user(user_id, name="mallory", email="mallory@otherco.example")
    slack.fake.users[user_id].update({"team_id": OTHER_TEAM, **fields})


def seed_board(slack, api_key):
    ingest(slack, api_key, *[worked(u, THIS_MONDAY) for u in ("UALICE", "UBOB")])


@pytest.mark.parametrize("team_id", [OTHER_TEAM, None], ids=["their-team", "our-team"])
def test_a_member_of_another_workspace_is_told_the_app_answers_only_members_and_not_stored(
    slack, api_key, db, team_id
):
    seed_board(slack, api_key)
    add_outsider(slack)
    reply = ask_as(slack, "top", "UMALLORY", team_id=team_id)
    assert ONLY_MEMBERS in text_of(reply)
    assert "<@UALICE>" not in str(reply) and reply["response_type"] == "ephemeral"
    assert find_slack_profile(db, "UMALLORY") is None


def test_someone_slack_does_not_know_is_refused_and_not_stored(slack, api_key, db):
    seed_board(slack, api_key)
    reply = ask_as(slack, "top", "UNOBODY")
    assert ONLY_MEMBERS in text_of(reply) and "<@UALICE>" not in str(reply)
    assert find_slack_profile(db, "UNOBODY") is None


@pytest.mark.parametrize(
    "oddity",
    [
        {"is_stranger": True},
        {"deleted": True},
        {"is_bot": True},
        {"is_app_user": True},
        {"team_id": None},
    ],
    ids=["stranger", "deleted", "bot", "app-user", "no-team"],
)
def test_a_user_of_ours_slack_says_is_no_person_here_is_refused(slack, db, oddity):
    add_outsider(slack, "UODD", **{"team_id": "T0001", **oddity})
    assert ONLY_MEMBERS in text_of(ask_as(slack, "me", "UODD"))
    assert find_slack_profile(db, "UODD") is None


def test_a_stranger_asking_again_and_again_is_not_looked_up_each_time(slack, db):
    add_outsider(slack)
    for n in range(3):
        assert ONLY_MEMBERS in text_of(ask_as(slack, "me", "UMALLORY", name=f"again{n}"))
    assert len(slack.fake.calls_to("users.info")) == 1


def test_a_request_naming_another_team_is_refused_without_asking_slack(slack, db):
    slack.ask("help")  # auth.test has said which workspace is ours by the time Alice is known
    slack.fake.wait_for("auth.test")
    reply = slack.post(slash_command("me", user_id="UALICE").replace("T0001", OTHER_TEAM))
    assert ONLY_MEMBERS in text_of(reply.json())  # answered in the ack itself
    assert len(slack.fake.calls_to("users.info")) == 1


def test_an_owner_of_another_workspace_gets_no_admin_commands(slack, db):
    add_outsider(slack, "UOTHERADMIN", is_owner=True, is_admin=True)
    for text in ("status", "retire", "org"):
        reply = ask_as(slack, text, "UOTHERADMIN", team_id=OTHER_TEAM, name=text)
        assert ONLY_MEMBERS in text_of(reply), text
    assert find_slack_profile(db, "UOTHERADMIN") is None


def test_a_stranger_clicking_a_confirm_button_is_refused(slack, db):
    add_outsider(slack, "UOTHERADMIN", is_owner=True)
    body = block_actions(
        CONFIRM_ACTION, "1", user_id="UOTHERADMIN", response_url=slack.fake.response_url("c")
    ).replace("T0001", OTHER_TEAM)
    assert slack.post(body).status_code == 200
    [posted] = slack.fake.wait_for("response_url")
    assert ONLY_MEMBERS in text_of(posted.params)
    assert find_slack_profile(db, "UOTHERADMIN") is None


def test_a_stranger_opening_the_app_home_gets_nothing_published_and_is_not_stored(slack, db):
    add_outsider(slack)
    body = app_home_opened("UMALLORY")
    assert slack.post(body, signed_headers(body, "application/json")).status_code == 200
    slack.fake.wait_for("users.info")
    time.sleep(0.2)  # the lazy listener's publish, if it were to come
    assert slack.fake.calls_to("views.publish") == []
    assert find_slack_profile(db, "UMALLORY") is None


@pytest.mark.parametrize("flag", ["is_restricted", "is_ultra_restricted"])
def test_a_guest_sees_their_own_figures_but_not_the_leaderboard_or_the_org(
    slack, api_key, db, flag
):
    seed_board(slack, api_key)
    slack.fake.add_user("UGUEST", name="guest")
    slack.fake.users["UGUEST"][flag] = True
    assert "your time" in text_of(ask_as(slack, "me", "UGUEST", name="me"))
    for text in ("top", "org"):
        reply = ask_as(slack, text, "UGUEST", name=text)
        assert "guests" in text_of(reply) and "<@UALICE>" not in str(reply), text
    assert find_slack_profile(db, "UGUEST").is_guest


def test_someone_never_seen_is_asked_to_try_again_when_slack_cannot_say(slack, db):
    slack.fake.fail("users.info", error="fatal_error")
    reply = ask_as(slack, "me", "UALICE")
    assert "could not check" in text_of(reply)
    assert find_slack_profile(db, "UALICE") is None


def test_a_member_verified_before_is_answered_from_what_is_stored_when_slack_cannot_say(
    slack, db, now
):
    save_slack_profile(
        db,
        "UALICE",
        display_name="alice",
        tz="Europe/Berlin",
        is_workspace_admin=True,
        now=now.replace(year=2025),
    )
    slack.fake.fail("users.info", error="fatal_error")
    assert "your time (Europe/Berlin)" in text_of(ask_as(slack, "me", "UALICE"))
    # What Slack said about admin rights earlier is not trusted when it cannot say now.
    assert "is for admins" in text_of(ask_as(slack, "status", "UALICE", name="status"))


def test_a_member_of_ours_is_answered_and_remembered_as_a_member(slack, db):
    assert "your time" in text_of(slack.ask("me"))
    profile = find_slack_profile(db, "UALICE")
    assert profile.checked_at is not None and not profile.is_guest

"""Enterprise Grid, end to end through the signed endpoint: the bot token belongs to one
workspace of an org (or, installed org-wide, to the org alone), and the app answers every
member of that org, whichever of its workspaces they are in. Anyone of another org (over
Slack Connect, or a Grid org of their own) is refused as any stranger is, and never stored."""

from __future__ import annotations

import json
import time

import pytest

from bot.demo.signed_requests import app_home_opened, block_actions, slash_command
from bot.slack.views.admin import CONFIRM_ACTION
from bot.slack.views.home import DIGEST_ON_ACTION
from bot.slack.views.privacy import FORGET_CANCEL_ACTION
from storage.digests import digest_subscribers
from storage.profiles import find_slack_profile
from tests.slack_command_helpers import text_of
from tests.slack_requests import TEAM_ID, signed_headers

pytestmark = pytest.mark.one_database

ORG = "E0ACME"  # our org; TEAM_ID is the workspace the bot token was installed in
SISTER = "T0SISTER"  # another workspace of our org
OTHER_ORG, OTHER_TEAM = "E0OTHER", "T0OTHERCO"
ONLY_MEMBERS = "only members of this workspace"


@pytest.fixture
def grid(slack):
    """The app installed in one workspace of the org ORG; Alice is a member of it, Sam of
    the org's other workspace SISTER, Mallory of another org altogether."""
    slack.fake.workspace = {"team_id": TEAM_ID, "enterprise_id": ORG}
    add_grid_user(slack, "UALICE", TEAM_ID, ORG)
    add_grid_user(slack, "USAM", SISTER, ORG)
    add_grid_user(slack, "UMALLORY", OTHER_TEAM, OTHER_ORG)
    return slack


def add_grid_user(slack, user_id, team_id, org, **fields):
    """A user as `users.info` answers on Enterprise Grid: their own workspace, and their org."""
    if user_id not in slack.fake.users:
        slack.fake.add_user(user_id, name=user_id[1:].lower())
    slack.fake.users[user_id].update(
        team_id=team_id,
        enterprise_user={"id": user_id, "enterprise_id": org, "teams": [team_id]},
        **fields,
    )


def ask_as(slack, text, user_id, *, team_id=TEAM_ID, org=ORG, name=None):
    """The reply to `/aiusage text` from `user_id`, whose payload names `team_id` and `org`:
    from the ack when the app answered at once, else from its post to `response_url`."""
    name = name or f"{user_id}-{text}".replace(" ", "-")
    body = slash_command(
        text,
        user_id=user_id,
        team_id=team_id,
        enterprise_id=org,
        response_url=slack.fake.response_url(name),
    )
    response = slack.post(body)
    assert response.status_code == 200, response.text
    if response.content:
        return response.json()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if posted := slack.responses(name):
            return posted[0]
        time.sleep(0.01)
    raise AssertionError(f"no reply to {text!r} from {user_id}")


def ours_is_known(slack):
    """Alice asks first: by her answer auth.test has said which org is ours, so a request's
    own team and org are checked against it from then on."""
    assert "/aiusage" in text_of(ask_as(slack, "help", "UALICE"))


def open_home(slack, user_id):
    body = app_home_opened(user_id, enterprise_id=ORG)
    assert slack.post(body, signed_headers(body, "application/json")).status_code == 200


def click(slack, action_id, value, user_id, **where):
    body = block_actions(
        action_id, value, user_id=user_id, response_url=slack.fake.response_url("click"), **where
    )
    assert slack.post(body).status_code == 200


def clicked_reply(slack):
    """What the app posted back to the clicked message's `response_url`."""
    deadline = time.monotonic() + 15
    while not (posted := slack.responses("click")) and time.monotonic() < deadline:
        time.sleep(0.01)
    [reply] = posted
    return reply


def published_for(slack, user_id):
    calls = slack.fake.wait_for("views.publish")
    assert calls[-1].params["user_id"] == user_id
    view = calls[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def nothing_more_comes(slack, method, count):
    time.sleep(0.3)  # the lazy listener's call, if it were to come
    assert len(slack.fake.calls_to(method)) == count


# -- members of our org ----------------------------------------------------------------------


@pytest.mark.parametrize("where", [SISTER, TEAM_ID], ids=["from-their-workspace", "from-ours"])
def test_a_member_of_another_workspace_of_our_org_is_answered_and_remembered(grid, db, where):
    reply = ask_as(grid, "me", "USAM", team_id=where)
    assert "your time" in text_of(reply)
    profile = find_slack_profile(db, "USAM")
    assert profile is not None and not profile.is_guest


def test_a_guest_of_another_workspace_of_our_org_is_a_guest_here(grid, db):
    add_grid_user(grid, "UGINA", SISTER, ORG, is_restricted=True)
    assert "your time" in text_of(ask_as(grid, "me", "UGINA", team_id=SISTER))
    assert "guests" in text_of(ask_as(grid, "top", "UGINA", team_id=SISTER))
    assert find_slack_profile(db, "UGINA").is_guest


def test_a_member_of_another_workspace_of_our_org_gets_their_home(grid, db):
    open_home(grid, "USAM")
    assert "Weekly digest" in text_of(published_for(grid, "USAM"))
    assert find_slack_profile(db, "USAM") is not None


@pytest.mark.parametrize("their_team", [SISTER, ORG], ids=["their-workspace", "the-org-id"])
def test_a_home_button_clicked_by_a_member_of_another_workspace_of_our_org_works(
    grid, db, their_team
):
    """The click as Slack sends it on Grid: the org named in its `team` (its `enterprise` is
    null but for an org-wide install), the clicker's own workspace in `user.team_id`, which
    Slack documents may be the org's ID instead. Such clicks used to be refused at once."""
    ours_is_known(grid)
    click(grid, DIGEST_ON_ACTION, "on", "USAM", user_team_id=their_team, enterprise_id=ORG)
    assert "Weekly digest: *on*" in text_of(published_for(grid, "USAM"))
    assert [s.slack_user_id for s in digest_subscribers(db)] == ["USAM"]


def test_a_reply_button_clicked_by_a_member_of_another_workspace_of_our_org_works(grid, db):
    ours_is_known(grid)
    click(grid, FORGET_CANCEL_ACTION, "0", "USAM", user_team_id=SISTER, enterprise_id=ORG)
    assert "Cancelled. Nothing was deleted." in text_of(clicked_reply(grid))


# -- people of another org -------------------------------------------------------------------


@pytest.mark.parametrize(
    "theirs",
    [
        {"team_id": OTHER_TEAM, "is_stranger": True},
        {"team_id": OTHER_TEAM, "enterprise_user": {"id": "UMALLORY", "enterprise_id": OTHER_ORG}},
        {"team_id": OTHER_TEAM},
    ],
    ids=["slack-connect-stranger", "another-grid-org", "no-org"],
)
def test_someone_of_another_org_is_refused_and_not_stored(grid, db, theirs):
    """The command comes from a channel of ours shared with their org, so its payload names
    our team and org: only `users.info` tells who they are."""
    grid.fake.users["UMALLORY"].pop("enterprise_user")
    grid.fake.users["UMALLORY"].update(theirs)
    reply = ask_as(grid, "me", "UMALLORY")
    assert ONLY_MEMBERS in text_of(reply) and reply["response_type"] == "ephemeral"
    assert len(grid.fake.calls_to("users.info")) == 1
    assert find_slack_profile(db, "UMALLORY") is None


@pytest.mark.parametrize(
    "team_id, org",
    [(OTHER_TEAM, OTHER_ORG), (OTHER_TEAM, None)],
    ids=["another-grid-org", "a-workspace-outside-grid"],
)
def test_a_command_whose_payload_names_another_org_is_refused_at_once(grid, db, team_id, org):
    """Decided from the payload alone (`Callers.foreign`), in the ack, without `users.info`,
    once auth.test has said which org is ours."""
    ours_is_known(grid)
    asked = len(grid.fake.calls_to("users.info"))
    body = slash_command("me", user_id="UMALLORY", team_id=team_id, enterprise_id=org)
    response = grid.post(body)
    assert ONLY_MEMBERS in text_of(response.json())  # the ack itself
    assert len(grid.fake.calls_to("users.info")) == asked
    assert find_slack_profile(db, "UMALLORY") is None


def test_someone_of_another_org_opening_the_home_gets_nothing_and_is_not_stored(grid, db):
    open_home(grid, "UMALLORY")
    grid.fake.wait_for("users.info")
    nothing_more_comes(grid, "views.publish", 0)
    assert find_slack_profile(db, "UMALLORY") is None


def test_a_home_button_clicked_from_another_org_changes_nothing(grid, db):
    """Over Slack Connect the click happens in our workspace (its `team` is ours, with our
    org) while `user.team_id` is the clicker's own: the payload cannot tell, so `users.info`
    decides, and a Home click refused is simply dropped, as it is for any stranger."""
    ours_is_known(grid)
    click(grid, DIGEST_ON_ACTION, "on", "UMALLORY", user_team_id=OTHER_TEAM, enterprise_id=ORG)
    grid.fake.wait_for("users.info")
    nothing_more_comes(grid, "views.publish", 0)
    assert digest_subscribers(db) == [] and find_slack_profile(db, "UMALLORY") is None


def test_a_confirm_button_clicked_from_another_org_is_refused(grid, db):
    ours_is_known(grid)
    click(grid, CONFIRM_ACTION, "1", "UMALLORY", user_team_id=OTHER_TEAM, enterprise_id=ORG)
    assert ONLY_MEMBERS in text_of(clicked_reply(grid))
    assert find_slack_profile(db, "UMALLORY") is None


def test_a_click_whose_payload_names_another_org_is_refused_without_asking_slack(grid, db):
    ours_is_known(grid)
    asked = len(grid.fake.calls_to("users.info"))
    click(grid, CONFIRM_ACTION, "1", "UMALLORY", team_id=OTHER_TEAM, enterprise_id=OTHER_ORG)
    assert ONLY_MEMBERS in text_of(clicked_reply(grid))
    assert len(grid.fake.calls_to("users.info")) == asked


# -- installed org-wide ----------------------------------------------------------------------


@pytest.fixture(params=["no-team", "empty-team", "org-as-team"])
def org_wide(request, grid):
    """The app installed on the whole org: auth.test names the org, and no workspace (no
    team_id, an empty one, or the org's own ID in its place). `manifest.yml` ships with
    `org_deploy_enabled: false`; an org that turns it on is answered as a whole."""
    grid.fake.workspace = {
        "no-team": {"enterprise_id": ORG},
        "empty-team": {"enterprise_id": ORG, "team_id": ""},
        "org-as-team": {"enterprise_id": ORG, "team_id": ORG},
    }[request.param]
    return grid


def test_installed_org_wide_every_workspace_of_the_org_is_answered(org_wide, db):
    assert "your time" in text_of(ask_as(org_wide, "me", "UALICE"))
    assert "your time" in text_of(ask_as(org_wide, "me", "USAM", team_id=SISTER))
    assert find_slack_profile(db, "USAM") is not None


def test_installed_org_wide_another_org_is_refused(org_wide, db):
    ours_is_known(org_wide)
    body = slash_command("me", user_id="UMALLORY", team_id=OTHER_TEAM, enterprise_id=OTHER_ORG)
    assert ONLY_MEMBERS in text_of(org_wide.post(body).json())  # the payload says: in the ack
    assert ONLY_MEMBERS in text_of(ask_as(org_wide, "me", "UMALLORY"))  # users.info says
    assert [call.params["user"] for call in org_wide.fake.calls_to("users.info")] == [
        "UALICE",
        "UMALLORY",
    ]
    assert find_slack_profile(db, "UMALLORY") is None


def test_installed_org_wide_a_click_that_names_no_team_works(org_wide, db):
    """An org-wide install's click may carry no `team`; the org is in `enterprise`, and the
    clicker's team (on Grid possibly the org's ID itself) in `user.team_id`."""
    ours_is_known(org_wide)
    click(
        org_wide, DIGEST_ON_ACTION, "on", "USAM", team_id=None, enterprise_id=ORG, org_install=True
    )
    assert "Weekly digest: *on*" in text_of(published_for(org_wide, "USAM"))


# -- admins: of our workspace, or of the org when installed org-wide -------------------------


def test_an_admin_of_another_workspace_of_our_org_is_no_admin_here(grid, db):
    """`is_admin` and `is_owner` are about the user's own workspace: an admin of the org's
    other workspace may not retire our leaderboard (AIUSAGE_ADMINS can name them)."""
    add_grid_user(grid, "USAM", SISTER, ORG, is_admin=True, is_owner=True)
    add_grid_user(grid, "UALICE", TEAM_ID, ORG, is_admin=True)
    assert "is for admins" in text_of(ask_as(grid, "status", "USAM", team_id=SISTER))
    assert "aiusage status" in text_of(ask_as(grid, "status", "UALICE"))


def test_installed_org_wide_the_orgs_admins_are_admins(org_wide, db):
    """Installed on the whole org, its admins and owners (`enterprise_user`) are ours; an
    admin of one of its workspaces alone is not."""
    add_grid_user(org_wide, "USAM", SISTER, ORG, is_admin=True)
    assert "is for admins" in text_of(ask_as(org_wide, "status", "USAM", team_id=SISTER))
    org_wide.fake.users["UALICE"]["enterprise_user"]["is_owner"] = True
    assert "aiusage status" in text_of(ask_as(org_wide, "status", "UALICE"))

"""Forget against every table the later issues added (digest and the claim of the digest DM
sent to her, teams, Copilot teams, connector state, outbox, the App Home chart file) and every
table the ORM will ever define: Alice is put in each through its own door, forgotten with the
Slack button, and the whole-database scan (tables from the ORM metadata, rows by her
identifiers or her ids) finds nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic import command

from bot.cli.main import main
from bot.composition import build_scheduler
from storage.connectors import copilot_teams, record_failure, replace_copilot_teams
from storage.db import alembic_config
from storage.digests import digest_subscribers
from storage.outbox import owe_post, pending_posts
from storage.posts import claim_post, mark_posted, post_claims
from storage.privacy_read import find_subject
from storage.privacy_records import STAND_IN, redact
from storage.profiles import save_slack_profile
from storage.schema import metadata
from tests.home.helpers import chart_file, open_home, without_public_url
from tests.privacy.helpers import (
    ALICE_IDS,
    HOSTILE_LOGIN,
    a_week_of_usage,
    clicked,
    scan,
)

ALICE_GITHUB = "Alice-GH"  # GitHub logins are case-insensitive; Copilot sends either case
NEEDLES = (*ALICE_IDS, ALICE_GITHUB)
# Tables that can hold something about one person, and so must be found before the forget.
# `awards` is not here: her badge stays, under the anonymous placeholder.
PERSONAL = {
    "people",
    "identities",
    "usage_events",
    "usage_daily",
    "awards",
    "digest_subscriptions",
    "team_members",
    "copilot_team_members",
    "connector_state",
    "outbox",
    "audit_log",
    "posts",  # the claim of the digest DM she was sent: its channel is her Slack ID
}


def send_digests(slack) -> None:
    """One pass of the weekly-digest job `serve` schedules; at `now` (a Wednesday) last
    week's digest is due to every subscriber."""
    build_scheduler(slack.services)._digest_job()


def dms(slack, user: str) -> list[dict]:
    return list(slack.fake.messages.get(user, []))


def alice_in_every_table(slack, db, tmp_path, now) -> None:
    a_week_of_usage(slack.http, slack.api_key)
    assert main(["awards", "post"]) == 0
    assert "on" in json.dumps(slack.ask("digest on"))
    assert "on" in json.dumps(slack.ask("digest on", user_id="UBOB"))
    send_digests(slack)
    assert len(dms(slack, "UALICE")) == len(dms(slack, "UBOB")) == 1
    assert main(["people", "link", f"copilot:{ALICE_GITHUB.lower()}", "UALICE"]) == 0
    teams = tmp_path / "teams.csv"
    teams.write_text("team,member\nPlatform,UALICE\nPlatform,UBOB\nSolo,alice@example.com\n")
    assert main(["teams", "import", str(teams)]) == 0
    replace_copilot_teams(db, date(2026, 11, 17), [("octo", ALICE_GITHUB), ("octo", "bob-gh")])
    record_failure(db, "copilot", f"seat lookup for {ALICE_GITHUB} answered 404", now)
    owe_post(
        db,
        "announcement:test",
        "announcement",
        {"kind": "retired", "text": f"Thanks <@UALICE> and {HOSTILE_LOGIN} for the idea"},
        ["CAWARDS"],
        now,
    )


@pytest.fixture
def slack_with_key(slack, api_key):
    slack.api_key = api_key
    return slack


def test_the_scan_reads_every_table_the_orm_defines(db):
    # On an empty database it reads them all, finds nothing, and agrees with the schema.
    assert len(metadata.tables) >= 20
    assert scan(db, ["x"], people=[1], identities=[1]) == []


def test_forget_leaves_nothing_in_any_table_and_empties_the_app_home(
    slack_with_key, db, tmp_path, now, capsys
):
    slack = slack_with_key
    alice_in_every_table(slack, db, tmp_path, now)
    # `digest on` refreshes her Home (and Bob's) after its answer, on its own time: let
    # both land first.
    slack.fake.wait_for("views.publish", 2)
    without_public_url(slack)  # Socket Mode's case: her chart is a file uploaded to Slack
    file_id = chart_file(open_home(slack, count=3))
    assert file_id in slack.fake.files
    subject = find_subject(db, slack_user_id="UALICE")
    assert subject is not None and subject.person_id is not None
    ids = {"people": [subject.person_id], "identities": subject.identity_ids}
    before = {hit.split(".")[0] for hit in scan(db, NEEDLES, **ids)}
    assert before >= PERSONAL - {"audit_log"}, PERSONAL - before

    mydata = json.dumps(slack.ask("mydata"))
    assert "Platform (csv)" in mydata and "octo (copilot report)" in mydata
    assert "Weekly digest" in mydata
    capsys.readouterr()
    assert main(["people", "export", "UALICE"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert {"name": "Solo", "source": "csv"} in exported["teams"]
    assert exported["digest_subscription"]["enabled"] is True
    [dm] = exported["direct_messages"]
    assert dm["post_key"] == "digest:2026-W46" and dm["status"] == "posted"

    # `digest on` refreshed her Home after its ack, on its own time: count from here.
    published_before = len(slack.fake.calls_to("views.publish"))
    done = clicked(slack, "aiusage_forget_confirm")
    assert "everything aiusage stored about you is deleted" in json.dumps(done)

    assert scan(db, NEEDLES, **ids) == []
    # The digest job's next passes send her nothing more, and Bob still has his one.
    send_digests(slack)
    assert len(dms(slack, "UALICE")) == len(dms(slack, "UBOB")) == 1
    assert scan(db, NEEDLES) == []
    # Her chart file is deleted from Slack, and her Home shows nothing of hers.
    assert file_id not in slack.fake.files
    [*_, published] = slack.fake.wait_for("views.publish", published_before + 1)
    assert published.params["user_id"] == "UALICE"
    view = json.dumps(published.params["view"])
    assert "Your aiusage data is deleted" in view and "Requests per week" not in view
    assert "optin" in view
    # The owed announcement still carries its news, without her.
    [owed] = pending_posts(db)
    assert owed.payload["text"] == f"Thanks {STAND_IN} and {STAND_IN} for the idea"
    # Surfaces built on the new tables no longer count her.
    assert [s.slack_user_id for s in digest_subscribers(db)] == ["UBOB"]
    assert copilot_teams(db) == {"octo": ["bob-gh"]}
    capsys.readouterr()
    assert main(["teams", "list"]) == 0
    listed = capsys.readouterr().out
    assert "Solo" in listed and "Platform" in listed

    # The syncs that re-send her (a teams file, Copilot's report) do not bring her back.
    assert main(["teams", "import", str(tmp_path / "teams.csv")]) == 0
    replace_copilot_teams(db, date(2026, 11, 18), [("octo", ALICE_GITHUB), ("octo", "bob-gh")])
    assert scan(db, NEEDLES) == []
    assert copilot_teams(db) == {"octo": ["bob-gh"]}


def test_a_digest_run_that_read_her_before_her_forget_sends_her_nothing(slack_with_key, db, capsys):
    """The job read its subscribers, Alice then Bob; Bob is forgotten (by the CLI, another
    process) while Alice's DM is being posted. Bob's turn then claims nothing: no DM to
    someone forgotten, and no claim left naming him."""
    slack = slack_with_key
    a_week_of_usage(slack.http, slack.api_key)
    slack.ask("digest on")
    slack.ask("digest on", user_id="UBOB")
    forgot: list[int] = []

    def forget_bob(params: dict) -> bool:
        if params.get("channel") == "UALICE" and not forgot:
            forgot.append(main(["people", "forget", "UBOB"]))
        return True

    slack.fake.before("chat.postMessage", forget_bob)
    send_digests(slack)
    assert forgot == [0]
    assert len(dms(slack, "UALICE")) == 1 and dms(slack, "UBOB") == []
    assert [claim.channel for claim in post_claims(db, "digest:2026-W46")] == ["UALICE"]
    # Alice's digest is still hers once, whatever runs next.
    slack.fake.before("chat.postMessage", lambda _params: True)
    send_digests(slack)
    assert len(dms(slack, "UALICE")) == 1 and dms(slack, "UBOB") == []


def test_operator_forget_deletes_the_chart_file_the_server_uploaded(
    slack_with_key, db, now, capsys
):
    """The file ID is on her row, so the CLI (another process) deletes it too."""
    slack = slack_with_key
    a_week_of_usage(slack.http, slack.api_key)
    without_public_url(slack)
    file_id = chart_file(open_home(slack))
    slack.fake.fail("views.publish", error="not_enabled", times=2)  # before and after
    capsys.readouterr()
    assert main(["people", "forget", "UALICE"]) == 1  # deleted; the Home could not be emptied
    out, err = capsys.readouterr()
    assert "digest=0" in out and "App Home: not_enabled" in err
    assert file_id not in slack.fake.files
    assert scan(db) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks <@UALICE|alice> and UALICE!", "Thanks someone and someone!"),
        ("Mail <mailto:Alice@Example.com|Alice@Example.com> now", "Mail someone now"),
        ("alice@example.com, not UALICEX", "someone, not someoneX"),
        ("50% of 'o'brien' & <b>", "50% of 'o'brien' & <b>"),
    ],
)
def test_redact_takes_out_identifiers_in_any_case_and_form(text, expected):
    assert redact(text, ["UALICE", "alice@example.com"]) == expected


def test_the_privacy_notice_inventories_every_table_the_orm_defines():
    notice = (Path(__file__).parents[2] / "docs" / "privacy.md").read_text()
    inventory = notice.split("## Data inventory", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in metadata.tables if f"`{name}`" not in inventory]
    assert missing == [], f"docs/privacy.md's inventory does not name {missing}"
    # Columns that hold something about one person are named too, by what they hold.
    assert "App Home chart" in inventory


def test_db_upgrade_deletes_the_digest_claims_earlier_forgets_left(db, now, capsys):
    """Before 0170_dmclaims a forget left the claims of the digests sent to the person, their
    Slack ID as the channel; `aiusage db upgrade` deletes those and keeps everyone else's."""
    save_slack_profile(
        db, "UALICE", display_name="alice", tz=None, is_workspace_admin=False, now=now
    )
    for key, channel in (
        ("digest:2026-W46", "UALICE"),  # stored: kept
        ("digest:2026-W46", "UGONE"),  # forgotten before the fix: nobody stored has the ID
        ("digest:2026-W45", "UGONE"),
        ("awards:2026-W46", "CAWARDS"),  # a channel, no person's: kept
    ):
        assert claim_post(db, key, channel, "earlier", now, timedelta(minutes=1)) is not None
        mark_posted(db, key, channel, "earlier", "1.0", now)
    with db.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0160_edits")
        conn.commit()
    assert main(["db", "upgrade"]) == 0
    assert [c.channel for c in post_claims(db, "digest:2026-W46")] == ["UALICE"]
    assert post_claims(db, "digest:2026-W45") == []
    assert [c.channel for c in post_claims(db, "awards:2026-W46")] == ["CAWARDS"]

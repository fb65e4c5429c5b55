"""Writers that touch a person's rows while a forget of that person is under way, on
PostgreSQL: they wait on the forget's locks, and once it commits they end as if they had
come just after it, never in an error."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.cli.main import main
from bot.slack.listeners.errors import ERROR_TEXT
from storage.awards import week_awards
from storage.integrity import week_flags
from storage.models import IdentityRow, PersonRow
from storage.privacy import is_forgotten
from storage.profiles import find_slack_profile
from tests.privacy.helpers import (
    LAST_WEEK,
    a_week_of_usage,
    in_thread,
    scan,
    send,
    suggestion,
    waits_on,
)
from tests.test_database_outage import holding_lock_on
from tests.test_scripted_usage import honest_week, usage

# The forget deletes her team spells right after it has locked her identities and person:
# held there (its writes kept out, reads let through), it holds those locks open.
HELD_AT = "team_members"


def _forget_meanwhile(database_url: str, who: str, write):
    """`write()` on a thread of its own, started while the forget of `who` holds their rows
    and run on until that forget has committed; returns (forget's exit code, write's result)."""
    with holding_lock_on(database_url, HELD_AT, "EXCLUSIVE") as locker:
        forgetting, code = in_thread(lambda: main(["people", "forget", who]))
        [forget_pid] = waits_on(locker)
        writing, written = in_thread(write)
        waits_on(forget_pid)
    forgetting.join(60)
    writing.join(60)
    assert not writing.is_alive() and len(written) == 1, "the write never ended"
    return code, written[0]


def _skip_on_sqlite(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock keeps every writer out of a forget")


@pytest.mark.postgres
def test_digest_on_meeting_her_forget_is_answered_as_for_someone_forgotten(
    database_url, slack, db, capsys
):
    """`/aiusage digest on` waited on her person row, then failed on its foreign key: she
    was told something went wrong."""
    _skip_on_sqlite(database_url)
    slack.ask("me")  # her profile, as Slack gave it
    code, reply = _forget_meanwhile(database_url, "UALICE", lambda: slack.ask("digest on"))
    assert code == [0], capsys.readouterr().err
    text = json.dumps(reply)
    assert ERROR_TEXT not in text
    assert "none is sent while aiusage keeps your forget" in text
    assert is_forgotten(db, "UALICE")


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["optout", "optin"])
def test_opting_out_or_in_while_she_is_forgotten_is_answered(
    database_url, slack, db, command, capsys
):
    """Her opt-out's update of her person row waited on the forget and then found no row:
    she was told something went wrong."""
    _skip_on_sqlite(database_url)
    slack.ask("me")
    code, reply = _forget_meanwhile(database_url, "UALICE", lambda: slack.ask(command))
    assert code == [0], capsys.readouterr().err
    assert ERROR_TEXT not in json.dumps(reply)
    profile = find_slack_profile(db, "UALICE")
    assert profile is not None and profile.opted_out is (command == "optout")


@pytest.mark.postgres
def test_her_first_command_while_she_is_forgotten_stores_what_slack_said_of_her(
    database_url, slack, db, capsys
):
    """Her first command stores what Slack says of her; stored while her forget held her
    person row, it found no row after it, and her command failed."""
    _skip_on_sqlite(database_url)
    assert main(["people", "link", "alice@example.com", "UALICE"]) == 0  # known, never asked
    code, reply = _forget_meanwhile(database_url, "UALICE", lambda: slack.ask("me"))
    assert code == [0], capsys.readouterr().err
    assert ERROR_TEXT not in json.dumps(reply)
    profile = find_slack_profile(db, "UALICE")
    assert profile is not None and profile.checked_at is not None


@pytest.mark.postgres
@pytest.mark.parametrize("identity", ["alice@example.com", "otlp:alice-laptop"])
def test_linking_an_identity_to_someone_being_forgotten_links_it_after_the_forget(
    database_url, db, identity, capsys
):
    """The link waited on her rows; then it failed on its foreign key (a new identity) or
    said it had linked one it had not (her email, deleted under it)."""
    _skip_on_sqlite(database_url)
    assert main(["people", "link", "alice@example.com", "UALICE"]) == 0
    code, linked = _forget_meanwhile(
        database_url, "UALICE", lambda: main(["people", "link", identity, "UALICE"])
    )
    out, err = capsys.readouterr()
    assert (code, linked) == ([0], 0), err
    assert "Linked" in out
    # As a link made just after the forget: the identity is hers again (her tombstones
    # still keep its usage out until she opts in).
    kind, _, value = identity.rpartition(":")
    with db.read() as conn:
        owner = conn.scalar(
            select(PersonRow.slack_user_id)
            .join(IdentityRow, IdentityRow.person_id == PersonRow.id)
            .where(IdentityRow.kind == (kind or "email"), IdentityRow.value == value)
        )
    assert owner == "UALICE"


@pytest.mark.postgres
def test_an_award_winner_forgotten_while_the_week_is_decided_is_left_out(
    database_url, slack, db, api_key, capsys
):
    """The award run stored her badge by her person id while her forget held that row: the
    foreign key failed the whole week, and nobody's awards were stored or posted."""
    _skip_on_sqlite(database_url)
    a_week_of_usage(slack.http, api_key)
    bob = [
        suggestion({"slack_user_id": "UBOB"}, LAST_WEEK.start + timedelta(days=i))
        for i in (0, 3, 4)
    ]
    send(slack.http, api_key, *bob)
    code, posted = _forget_meanwhile(database_url, "UALICE", lambda: main(["awards", "post"]))
    assert (code, posted) == ([0], 0), capsys.readouterr().err
    winners = {a.slack_user_id for a in week_awards(db, LAST_WEEK.start)}
    assert winners == {"UBOB"}
    assert scan(db, ["UALICE"]) == []


@pytest.mark.postgres
def test_a_person_flagged_and_forgotten_while_the_week_is_decided_is_left_out(
    database_url, slack, db, api_key, capsys
):
    """The week's integrity flags, stored by person id before its badges, waited on her
    forget and then failed the award run on their foreign key."""
    _skip_on_sqlite(database_url)
    claimed = [
        usage("UALICE", day, 9, kind="agent", input_tokens=10_000, lines_accepted=10**9)
        for day in (0, 1)
    ]
    send(slack.http, api_key, *claimed, *honest_week("UBOB"))
    code, posted = _forget_meanwhile(database_url, "UALICE", lambda: main(["awards", "post"]))
    assert (code, posted) == ([0], 0), capsys.readouterr().err
    assert {a.slack_user_id for a in week_awards(db, LAST_WEEK.start)} == {"UBOB"}
    assert week_flags(db, LAST_WEEK.start) == []
    assert scan(db, ["UALICE"]) == []

"""Forget, export and mydata, end to end on both databases: signed Slack requests and button
clicks into the real endpoint, the award post edited on the fake Slack over HTTP, the CLI,
and a scan of every column of every table for the forgotten person's identifiers."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli.main import main
from storage.awards import week_awards
from storage.models import DailyRow
from tests.privacy.helpers import (
    HOSTILE_LOGIN,
    LAST_WEEK,
    a_week_of_usage,
    clicked,
    scan,
    send,
    suggestion,
)
from tests.slack_command_helpers import text_of


def test_forget_from_slack_removes_the_person_from_every_table_and_surface(
    slack, db, api_key, capsys
):
    a_week_of_usage(slack.http, api_key)
    assert main(["awards", "post"]) == 0
    [posted] = slack.fake.messages["CAWARDS"]
    assert "<@UALICE>" in posted["text"]
    slack.ask("me")  # her Slack profile (name, zone) is stored too
    assert scan(db)  # she is there before

    mydata = text_of(slack.ask("mydata"))
    assert "*Usage events* as tools sent them: 6," in mydata
    # The dot of a domain is a look-alike (U+2024), so Slack makes no mailto link of it.
    assert "email:alice@example\u2024com" in mydata
    assert "&lt;@UBOB&gt;" in mydata and "<@UBOB>" not in mydata  # her login, escaped
    assert "aiusage people export UALICE" in mydata and "/aiusage forget" in mydata

    preview = slack.ask("forget")
    assert preview["response_type"] == "ephemeral"
    assert "dropped as it arrives" in text_of(preview) and "/aiusage optin" in text_of(preview)
    [actions] = [b for b in preview["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [
        "aiusage_forget_confirm",
        "aiusage_forget_cancel",
    ]
    assert scan(db), "a preview deletes nothing"
    assert "UALICE" in json.dumps(slack.ask("top", user_id="UBOB"))  # ranked, and cached

    done = clicked(slack, "aiusage_forget_confirm")
    assert done["replace_original"] is True
    assert "everything aiusage stored about you is deleted" in text_of(done)
    assert "1 award posts edited" in text_of(done)

    # The award post was rewritten through chat.update and no longer names her.
    [update] = slack.fake.calls_to("chat.update")
    assert update.params["channel"] == "CAWARDS" and update.params["ts"] == posted["ts"]
    assert "UALICE" not in json.dumps(slack.fake.messages["CAWARDS"])
    # The award history keeps an anonymous entry.
    [kept] = week_awards(db, LAST_WEEK.start)
    assert kept.slack_user_id is None and kept.category == "steady"

    assert scan(db) == []

    # Later usage for any of her identities is dropped at the door, and counted as accepted.
    later = [
        suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 17)),
        suggestion({"email": "ALICE@example.com"}, date(2026, 11, 17)),
    ]
    assert send(slack.http, api_key, *later)["accepted"] == 2
    assert scan(db) == []

    # No surface shows her: Bob's leaderboard, the report, the export.
    assert "UALICE" not in json.dumps(slack.ask("top", user_id="UBOB"))
    capsys.readouterr()
    assert main(["report", "--week", LAST_WEEK.label, "--format", "json"]) == 0
    report = capsys.readouterr().out
    assert "UBOB" in report and "alice" not in report.lower()
    assert main(["people", "export", "UALICE"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["events"] == [] and exported["person"] == {}
    assert main(["awards", "preview", "--week", LAST_WEEK.label]) == 0
    assert "UALICE" not in capsys.readouterr().out

    # The audit keeps that it happened, by whom (herself), and no data.
    assert main(["audit"]) == 0
    audit = capsys.readouterr().out
    assert "people.forget" in audit and "events=6" in audit and "UALICE" not in audit

    # Asking herself: no badge, no usage is left (this stores her Slack profile afresh).
    assert "Steady hand" not in text_of(slack.ask("badges"))
    assert "*Usage events* as tools sent them: none" in text_of(slack.ask("mydata"))

    # Opting in again lets her usage count from then on.
    slack.ask("optin")
    send(slack.http, api_key, suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 18)))
    assert "*Usage events* as tools sent them: 1," in text_of(slack.ask("mydata"))


def test_cancel_deletes_nothing(slack, db, api_key):
    a_week_of_usage(slack.http, api_key)
    slack.ask("forget")
    answer = clicked(slack, "aiusage_forget_cancel")
    assert "Nothing was deleted" in text_of(answer)
    assert "*Usage events* as tools sent them: 6," in text_of(slack.ask("mydata"))


def test_the_forget_button_only_ever_forgets_whoever_clicks_it(slack, db, api_key):
    a_week_of_usage(slack.http, api_key)
    slack.ask("forget")  # Alice's preview
    clicked(slack, "aiusage_forget_confirm", user_id="UBOB")  # Bob replays her button
    # It forgot Bob, who pressed it (Alice's login merely contains "<@UBOB>").
    assert [hit for hit in scan(db, ["UBOB"]) if "brien" not in hit] == []
    assert "*Usage events* as tools sent them: 6," in text_of(slack.ask("mydata"))


def test_operator_export_and_forget_by_hostile_identity(slack, db, api_key, capsys):
    a_week_of_usage(slack.http, api_key)
    capsys.readouterr()
    assert main(["people", "export", f"otlp:{HOSTILE_LOGIN}"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["person"]["slack_user_id"] == "UALICE"
    assert len(document["events"]) == 6 and len(document["awards"]) == 0
    assert {i["value"] for i in document["identities"]} >= {"UALICE", HOSTILE_LOGIN}

    assert main(["people", "forget", f"otlp:{HOSTILE_LOGIN}"]) == 0
    out = capsys.readouterr().out
    assert "events=6" in out and "identities=3" in out
    assert scan(db) == []
    assert scan(db, ["UBOB"]) != []  # Bob is untouched
    send(slack.http, api_key, suggestion({"slack_user_id": "UALICE"}, date(2026, 11, 17)))
    assert scan(db) == []


def test_an_announcement_that_named_the_person_is_scrubbed_everywhere_it_is_kept(
    slack, db, api_key, monkeypatch, capsys
):
    """The retirement, the leaderboard state, the outbox and the audit all keep the text."""
    a_week_of_usage(slack.http, api_key)
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    text = "Thanks UALICE and alice@example.com for the idea"
    assert main(["admin", "retire", "--announcement", text, "--by", "UADMIN"]) == 0
    assert any("alice@example.com" in hit for hit in scan(db) if hit.startswith("outbox."))
    assert main(["people", "forget", "UALICE"]) == 0
    assert scan(db) == []


def test_forgetting_an_identity_nothing_is_stored_for_still_drops_its_later_usage(
    slack, db, api_key, capsys
):
    assert main(["people", "forget", "newcomer@example.com"]) == 0
    send(slack.http, api_key, suggestion({"email": "newcomer@example.com"}, date(2026, 11, 17)))
    assert scan(db, ["newcomer"]) == []
    assert main(["people", "forget", "copilot:"]) == 2  # no value: bad usage


def test_a_vendor_report_for_a_forgotten_login_is_dropped_at_import(settings, db, capsys):
    data = Path(__file__).parents[1] / "data" / "copilot_users_1_day.ndjson"
    assert main(["people", "link", "copilot:octocat", "UOCTO"]) == 0
    assert main(["people", "forget", "UOCTO"]) == 0
    assert main(["import", "copilot", str(data)]) == 0
    assert scan(db, ["octocat", "UOCTO"]) == []
    # The other login in the same report is stored as usual.
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(DailyRow)) > 0


def test_operator_forget_edits_the_award_post_too_and_says_when_it_could_not(
    slack, db, api_key, capsys
):
    a_week_of_usage(slack.http, api_key)
    assert main(["awards", "post"]) == 0
    [posted] = slack.fake.messages["CAWARDS"]
    slack.fake.fail("chat.update", error="cant_update_message")
    capsys.readouterr()
    assert main(["people", "forget", "alice@example.com"]) == 1  # deleted, post not edited
    out, err = capsys.readouterr()
    assert "events=6" in out and "cant_update_message" in err
    assert "<@UALICE>" in slack.fake.messages["CAWARDS"][0]["text"]
    assert scan(db) == []
    # The badge's week is still known (anonymously), so an admin can fix the post by hand.
    [kept] = week_awards(db, LAST_WEEK.start)
    assert kept.slack_user_id is None and posted["ts"]


@pytest.mark.parametrize("failure", [{"status": 429, "retry_after": 30}, {"error": "fatal_error"}])
def test_a_home_not_emptied_before_the_commit_neither_stops_nor_delays_the_forget(
    slack, db, api_key, failure
):
    """The operator's forget empties her Home before its commit as well as after; the first
    publish rate-limited (handed back at once, not waited out) or refused, the forget goes
    on, and the publish after the commit empties her tab."""
    a_week_of_usage(slack.http, api_key)
    slack.fake.fail("views.publish", **failure)
    started = time.monotonic()
    assert main(["people", "forget", "alice@example.com"]) == 0
    assert time.monotonic() - started < 10  # not Slack's 30 s Retry-After
    assert scan(db) == []
    _before, after = slack.fake.calls_to("views.publish")
    assert after.params["user_id"] == "UALICE"
    assert "Your aiusage data is deleted" in str(after.params["view"])


def test_otlp_usage_for_a_forgotten_person_is_dropped_before_any_series_state(
    client, api_key, db, now, capsys
):
    from sqlalchemy import select as select_

    from storage.models import EventRow, OtlpSeriesRow
    from storage.people import link_email
    from tests.otlp.helpers import metrics, tokens
    from tests.otlp.helpers import send as send_otlp

    link_email(db, "dev@example.com", "UDEV", now)
    assert send_otlp(client, api_key, metrics(tokens(100))).status_code == 200
    assert main(["people", "forget", "UDEV"]) == 0
    answer = send_otlp(client, api_key, metrics(tokens(250)))
    assert answer.status_code == 200
    with db.read() as conn:
        assert list(conn.scalars(select_(EventRow.id))) == []
        series = list(conn.scalars(select_(OtlpSeriesRow.last_value)))
    assert series == [100.0]  # untouched by the dropped point; retention removes it later
    assert scan(db, ["dev@example.com", "UDEV"]) == []

"""`aiusage people import FILE`: Copilot logins (and any identity) linked to Slack users in bulk."""

from __future__ import annotations

from datetime import date

import pytest

from storage.admin import audit_log
from storage.people import link_email
from storage.usage_report import usage_report

D1 = date(2026, 11, 16)


@pytest.mark.postgres
def test_links_logins_by_user_id_or_known_email_and_names_bad_rows(run, db, tmp_path, now):
    report = tmp_path / "copilot.ndjson"
    report.write_text(
        '{"day": "2026-11-16", "user_login": "Octocat", "user_initiated_interaction_count": 3}\n'
        '{"day": "2026-11-16", "user_login": "hubot", "user_initiated_interaction_count": 2}\n'
    )
    assert run("import", "copilot", report)[0] == 0
    link_email(db, "ada@example.com", "UADA", now)
    links = tmp_path / "links.csv"
    links.write_text(
        "Identity,Slack_User\n"
        "copilot:OctoCat,U012AB3CD\n"
        "copilot:hubot,ADA@example.com\n"
        "copilot:ghost,nobody@example.com\n"
        '"=HYPERLINK(""http://x"")",U012AB3CD\n'
        "copilot:mona,not-a-user\n"
    )
    code, out, err = run("people", "import", links)
    assert code == 1
    assert "Linked 2 identities" in out and "3 rejected" in out
    assert "links.csv:4: no Slack user is known by 'nobody@example.com'" in err
    assert "links.csv:5: unknown identity kind" in err
    assert "links.csv:6:" in err
    rows = {line.slack_user_id: line.totals.requests for line in usage_report(db, D1, D1)}
    assert rows == {"U012AB3CD": 3, "UADA": 2}
    assert any(e.action == "people.import" for e in audit_log(db))


def test_a_file_without_the_header_is_refused_whole(run, db, tmp_path):
    links = tmp_path / "links.csv"
    links.write_text("login,user\ncopilot:octocat,U012AB3CD\n")
    code, _, err = run("people", "import", links)
    assert code == 2 and "identity,slack_user" in err
    assert run("people", "import", tmp_path / "missing.csv")[0] == 2


@pytest.mark.one_database
def test_a_header_naming_a_column_twice_is_refused_whole(run, db, tmp_path):
    # csv.DictReader would give each row the later of the two cells, silently.
    links = tmp_path / "links.csv"
    links.write_text("identity,slack_user,Slack_User \ncopilot:octocat,U012AB3CD,UOTHER1\n")
    code, out, err = run("people", "import", links)
    assert (code, out) == (2, "")
    assert err == f"aiusage: {links}: the header names the column 'Slack_User' twice\n"


def test_a_row_with_more_or_fewer_fields_than_the_header_is_rejected_by_its_line(run, db, tmp_path):
    """As `teams import` names such a line; the rows beside it are still linked."""
    links = tmp_path / "links.csv"
    links.write_text("identity,slack_user\ncopilot:a,UAAA1,extra\ncopilot:b\ncopilot:c,UCCC1\n")
    code, out, err = run("people", "import", links)
    assert code == 1
    assert "Linked 1 identities" in out and "2 rejected" in out
    assert "links.csv:2: has 3 fields; the header has 2" in err
    assert "links.csv:3: has 1 field; the header has 2" in err

"""A person's export and `/aiusage mydata` say when they were in each team, not only which
teams: every spell of membership with its start and end (None: always / still), so someone
counted in a team from one date until another can read both dates. `teams` keeps its old
shape (name and source once per team) for whoever reads exports already."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from freezegun import freeze_time

from bot.cli.main import main
from storage.connectors import replace_copilot_teams
from tests.slack_command_helpers import text_of

FIRST = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)  # the first teams ever: members since always
MOVED = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # Alice leaves Platform and joins Data
BACK = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # Data is dropped; Alice is back in Platform


def import_teams(tmp_path, at: datetime, rows: str) -> None:
    path = tmp_path / "teams.csv"
    path.write_text("team,member\n" + rows)
    with freeze_time(at):
        assert main(["teams", "import", str(path)]) == 0


def alice_moves_between_teams(tmp_path) -> None:
    import_teams(tmp_path, FIRST, "Platform,UALICE\nPlatform,UBOB\nOps,UALICE\n")
    import_teams(tmp_path, MOVED, "Platform,UBOB\nOps,UALICE\nData,UALICE\n")
    import_teams(tmp_path, BACK, "Platform,UALICE\nPlatform,UBOB\nOps,UALICE\n")


def test_the_export_lists_each_team_spell_with_its_dates(db, tmp_path, capsys):
    alice_moves_between_teams(tmp_path)
    replace_copilot_teams(db, date(2026, 11, 17), [("octo", "alice-gh")])
    assert main(["people", "link", "copilot:alice-gh", "UALICE"]) == 0
    capsys.readouterr()

    assert main(["people", "export", "UALICE"]) == 0
    exported = json.loads(capsys.readouterr().out)

    assert exported["team_memberships"] == [
        {
            "name": "Data",
            "source": "csv",
            "identity": "slack:UALICE",
            "since": "2026-10-05T09:00:00+00:00",
            "until": "2026-11-02T08:00:00+00:00",
        },
        {"name": "Ops", "source": "csv", "identity": "slack:UALICE", "since": None, "until": None},
        {
            "name": "Platform",
            "source": "csv",
            "identity": "slack:UALICE",
            "since": None,
            "until": "2026-10-05T09:00:00+00:00",
        },
        {
            "name": "Platform",
            "source": "csv",
            "identity": "slack:UALICE",
            "since": "2026-11-02T08:00:00+00:00",
            "until": None,
        },
        # Copilot's report gives no dates: only the day of the report that lists her.
        {
            "name": "octo",
            "source": "copilot report",
            "identity": "copilot:alice-gh",
            "reported_on": "2026-11-17",
        },
    ]
    # Unchanged for readers of earlier exports: each team once, by name and source.
    assert exported["teams"] == [
        {"name": "Data", "source": "csv"},
        {"name": "Ops", "source": "csv"},
        {"name": "Platform", "source": "csv"},
        {"name": "octo", "source": "copilot report"},
    ]


def test_mydata_shows_the_days_of_each_team_spell(slack, db, tmp_path):
    alice_moves_between_teams(tmp_path)
    replace_copilot_teams(db, date(2026, 11, 17), [("octo", "alice-gh")])
    assert main(["people", "link", "copilot:alice-gh", "UALICE"]) == 0
    slack.move_to(datetime(2026, 11, 18, 12, 0, tzinfo=UTC))

    mydata = text_of(slack.ask("mydata"))

    assert (
        "*Teams* you are or were counted in (org view, never by name): "
        "Data (csv) 2026-10-05 to 2026-11-02, Ops (csv), "
        "Platform (csv) until 2026-10-05, Platform (csv) since 2026-11-02, "
        "octo (copilot report) as of 2026-11-17"
    ) in mydata


def test_a_team_name_that_means_something_to_slack_is_shown_as_typed(slack, tmp_path):
    """A teams file is anyone's typing: in `mydata` its names mention, link and format
    nothing, and a spell's dates beside them stay readable."""
    import_teams(tmp_path, FIRST, '"<!channel> *All* <https://evil.example|hi>",UALICE\n')
    import_teams(tmp_path, MOVED, "Ops,UALICE\n")
    slack.move_to(datetime(2026, 11, 18, 12, 0, tzinfo=UTC))

    mydata = text_of(slack.ask("mydata"))

    assert "<!channel>" not in mydata and "<https://evil.example" not in mydata
    # `*All*` shown as typed, not bold: look-alike asterisks; the link's `:` and `.` too.
    link = "&lt;https\u2236//evil\u2024example|hi&gt;"
    assert f"&lt;!channel&gt; \u2217All\u2217 {link} (csv) until 2026-10-05" in mydata

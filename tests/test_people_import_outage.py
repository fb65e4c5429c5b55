"""`aiusage people import` while Slack cannot answer a row's email look-up: the connection
dropped through the client's retries, no answer within the timeout, a 429 past the retry
handlers, a 5xx through them. The import stops at that row with one line saying how far it
got, exit 1; run again on the same file, it links the rest, the rows before it once. A row
whose email Slack answered it does not know is rejected as before, and the import goes on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.demo.fake_slack import FakeSlack
from bot.settings import Settings, load_settings
from storage.admin import audit_log
from tests.people_import_helpers import links

TIMEOUT_S = "0.5"  # AIUSAGE_SLACK_TIMEOUT_SECONDS: a look-up Slack never answers ends soon

# The row on line 5 asks Slack about carol, and Slack cannot answer it, each way below,
# for every try the client makes (slack_sdk retries 429s five times, dropped connections
# and 5xx three times; a timeout it does not retry).
OUTAGES: dict[str, Callable[[FakeSlack], None]] = {
    "connection dropped": lambda fake: fake.fail(
        "users.lookupByEmail", drop_connection=True, times=4
    ),
    "no answer in time": lambda fake: fake.fail("users.lookupByEmail", stall=2.0, times=1),
    "rate-limited past the retries": lambda fake: fake.fail(
        "users.lookupByEmail", status=429, retry_after="0", times=6
    ),
    "rate-limited for longer than is waited": lambda fake: fake.fail(
        "users.lookupByEmail", status=429, retry_after=120, times=1
    ),
    "server error": lambda fake: fake.fail("users.lookupByEmail", status=503, times=4),
}

FILE = (
    "identity,slack_user\n"
    "copilot:one,U0000001\n"  # line 2
    "copilot:two,alice@example.com\n"  # 3: Slack knows alice
    "copilot:ghost,nobody@example.com\n"  # 4: Slack answers users_not_found: rejected
    "copilot:three,carol@example.com\n"  # 5: Slack cannot be asked
    "copilot:four,U0000004\n"  # 6
    "copilot:five,bob@example.com\n"  # 7
)
ALL_LINKED = {
    ("copilot", "one"): "U0000001",
    ("copilot", "two"): "UALICE",
    ("email", "alice@example.com"): "UALICE",
    ("copilot", "three"): "UCAROL",
    ("email", "carol@example.com"): "UCAROL",
    ("copilot", "four"): "U0000004",
    ("copilot", "five"): "UBOB",
    ("email", "bob@example.com"): "UBOB",
}
BEFORE_THE_STOP = {("copilot", "one"), ("copilot", "two"), ("email", "alice@example.com")}


@pytest.fixture
def slack_settings(slack_settings: Settings, fake_slack: FakeSlack, monkeypatch) -> Settings:
    monkeypatch.setenv("AIUSAGE_SLACK_TIMEOUT_SECONDS", TIMEOUT_S)
    fake_slack.add_user("UCAROL", email="carol@example.com", name="carol")
    return load_settings()


def asked(fake: FakeSlack) -> list[str]:
    return [call.params["email"] for call in fake.calls_to("users.lookupByEmail")]


@pytest.mark.parametrize("outage", list(OUTAGES))
def test_an_import_stops_at_the_row_slack_cannot_answer_and_a_rerun_links_the_rest(
    outage, slack_settings, fake_slack, db, run, tmp_path
):
    path = tmp_path / "people.csv"
    path.write_text(FILE)

    def arm_after_nobody(params: dict) -> bool:
        # Scripted failures meet the next calls: armed while Slack answers nobody's look-up,
        # they meet carol's, and each of the client's retries of it.
        if params["email"] == "nobody@example.com":
            OUTAGES[outage](fake_slack)
        return True

    fake_slack.before("users.lookupByEmail", arm_after_nobody)
    code, out, err = run("people", "import", path)

    assert code == 1
    assert out == ""
    assert asked(fake_slack)[:2] == ["alice@example.com", "nobody@example.com"]
    assert set(asked(fake_slack)[2:]) == {"carol@example.com"}  # and no row after hers
    lines = err.splitlines()
    assert lines[0] == f"aiusage: {path}:4: no Slack user is known by 'nobody@example.com'"
    [stop] = lines[1:]
    assert stop.startswith(f"aiusage: {path}:5: stopped: Slack could not be asked about "), stop
    assert "3 of 6 rows done (2 linked, 1 rejected)" in stop, stop
    assert "run the same file again to go on from here" in stop, stop
    assert links(db) == {k: ALL_LINKED[k] for k in BEFORE_THE_STOP}  # none after carol's row
    entries = [(e.outcome, e.detail) for e in audit_log(db) if e.action == "people.import"]
    assert sorted(entries) == [
        ("started", f"6 rows from {path}"),
        ("stopped", f"3 of 6 rows done (2 linked, 1 rejected) from {path}"),
    ]

    # Slack is back: the same file again links the rest, the rows before the stop once.
    fake_slack.before("users.lookupByEmail", lambda params: True)
    code, out, err = run("people", "import", path)
    assert code == 1  # nobody's row, rejected again
    assert out == f"Linked 5 identities from {path}; 1 rejected.\n"
    assert err == f"aiusage: {path}:4: no Slack user is known by 'nobody@example.com'\n"
    assert links(db) == ALL_LINKED

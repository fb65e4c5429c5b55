"""`aiusage people import` while Slack refuses our bot token or app on `users.lookupByEmail`
(the `users:read.email` scope missing, the token revoked or invalid...), or answers an error
it does not document: that says nothing of the email, so the import stops at the first row
Slack is asked about, in one line naming Slack's error (and the scope needed), exit 1,
rather than rejecting every email row as unknown. Put right, the same file links the rest."""

from __future__ import annotations

import pytest

from bot.demo.fake_slack import FakeSlack
from storage.admin import audit_log
from tests.people_import_helpers import links

FILE = (
    "identity,slack_user\n"
    "copilot:one,U0000001\n"  # line 2
    "copilot:two,alice@example.com\n"  # 3: the first row Slack is asked about
    "copilot:ghost,nobody@example.com\n"  # 4: Slack answers users_not_found: rejected
    "copilot:three,carol@example.com\n"  # 5
    "copilot:four,U0000004\n"  # 6
)
ALL_LINKED = {
    ("copilot", "one"): "U0000001",
    ("copilot", "two"): "UALICE",
    ("email", "alice@example.com"): "UALICE",
    ("copilot", "three"): "UCAROL",
    ("email", "carol@example.com"): "UCAROL",
    ("copilot", "four"): "U0000004",
}

# Slack's errors about our token or app, with the fields it sends beside them; the last is
# one it does not document, which stops the import too: whatever it means, it is not "no
# such person", and stopping loses nothing.
REFUSALS = {
    "missing_scope": {"needed": "users:read.email", "provided": "chat:write,users:read"},
    "invalid_auth": {},
    "not_authed": {},
    "token_revoked": {},
    "token_expired": {},
    "account_inactive": {},
    "no_permission": {},
    "not_allowed_token_type": {},
    "ekm_access_denied": {},
    "team_access_not_granted": {},
    "sorry_not_now": {},
}


@pytest.mark.parametrize("error", list(REFUSALS))
def test_an_import_slack_refuses_our_token_for_stops_once_and_a_rerun_links_the_rest(
    error, slack_settings, fake_slack: FakeSlack, db, run, tmp_path
):
    fake_slack.add_user("UCAROL", email="carol@example.com", name="carol")
    path = tmp_path / "people.csv"
    path.write_text(FILE)
    fake_slack.fail("users.lookupByEmail", error=error, body=REFUSALS[error], times=1000)

    code, out, err = run("people", "import", path)

    assert code == 1
    assert out == ""
    assert [c.params["email"] for c in fake_slack.calls_to("users.lookupByEmail")] == [
        "alice@example.com"
    ]
    [stop] = err.splitlines()
    assert stop.startswith(
        f"aiusage: {path}:3: stopped: Slack refused the look-up of 'alice@example.com': {error}"
    ), stop
    if error == "missing_scope":
        assert "users:read.email" in stop, stop
    assert "1 of 5 rows done (1 linked, 0 rejected)" in stop, stop
    assert "run the same file again to go on from here" in stop, stop
    assert links(db) == {("copilot", "one"): "U0000001"}
    entries = [(e.outcome, e.detail) for e in audit_log(db) if e.action == "people.import"]
    assert sorted(entries) == [
        ("started", f"5 rows from {path}"),
        ("stopped", f"1 of 5 rows done (1 linked, 0 rejected) from {path}"),
    ]

    fake_slack.heal("users.lookupByEmail")  # the scope granted, or a new token
    code, out, err = run("people", "import", path)
    assert code == 1  # nobody's row, rejected
    assert out == f"Linked 4 identities from {path}; 1 rejected.\n"
    assert err == f"aiusage: {path}:4: no Slack user is known by 'nobody@example.com'\n"
    assert links(db) == ALL_LINKED

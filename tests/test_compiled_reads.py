"""The reads `me` and `top` run on the driver's cursor give exactly the rows SQLAlchemy's own
execution of the same statements gives, values and types, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from storage import awards, leaderboard, profiles, usage_queries
from storage.admin import confirm_retirement, request_retirement
from storage.awards import store_awards
from storage.compiled import CompiledRead
from storage.db import Database
from storage.figures import REPORTED
from storage.integrity import replace_flags
from storage.models import DailyRow
from storage.people import link_email, resolve_identities
from storage.profiles import save_slack_profile, set_opted_out
from storage.records import IntegrityFlag, NewAward

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
WEEK = date(2026, 11, 16)


def _same_rows(db: Database, read: CompiledRead, params: dict[str, object]) -> list[tuple]:
    with db.read() as conn:
        fast = read.rows(conn, params)
        slow = [tuple(row) for row in conn.execute(read.stmt, params)]
    assert fast == slow
    # Equal is not enough: 1 == 1.0 == True, and a date is not a datetime.
    assert [[type(v) for v in row] for row in fast] == [[type(v) for v in row] for row in slow]
    return fast


@pytest.mark.postgres
def test_compiled_reads_equal_sqlalchemys(db: Database) -> None:
    alice = save_slack_profile(
        db, "UALICE", display_name="Alice", tz="Europe/Berlin", is_workspace_admin=True, now=NOW
    ).person_id
    bob = save_slack_profile(
        db, "UBOB", display_name=None, tz=None, is_workspace_admin=False, now=NOW
    ).person_id
    set_opted_out(db, "UBOB", True, NOW)
    with db.write() as conn:
        ids = resolve_identities(conn, [("slack", "UALICE"), ("email", "a@x.org")], NOW)
    rows = []
    for n, (key, origin) in enumerate(
        [(("slack", "UALICE"), "events"), (("email", "a@x.org"), "import:cursor")]
    ):
        for back in range(10):
            rows.append(
                {
                    **dict.fromkeys(REPORTED),
                    "identity_id": ids[key],
                    "day": WEEK - timedelta(days=back),
                    "tool": "cursor",
                    "kind": "agent",
                    "origin": origin,
                    "requests": 3 + n + back,
                    "input_tokens": 1000 * back,
                    "output_tokens": 7,
                    "suggestions_shown": 10 if n else None,
                    "suggestions_accepted": 4 if n else None,
                    "cost_usd": 0.25 * back if n else None,
                    "events": 1,
                }
            )
    with db.write() as conn:
        conn.execute(insert(DailyRow), rows)
    link_email(db, "a@x.org", "UALICE", NOW)  # both sources now one person's: one counts
    store_awards(db, WEEK - timedelta(days=7), [NewAward(alice, "steady", "every day")], NOW)
    replace_flags(db, WEEK, [IntegrityFlag(alice, WEEK, "scripted", "night and day")], NOW)
    confirm_retirement(db, request_retirement(db, "paused", "UADMIN", NOW).id, "UADMIN", NOW)

    [profile] = _same_rows(db, profiles._FIND_PROFILE, {"slack_user_id": "UALICE"})
    assert profile[0] == alice and isinstance(profile[5], datetime)
    assert _same_rows(db, profiles._FIND_PROFILE, {"slack_user_id": "UNOBODY"}) == []
    daily = _same_rows(
        db,
        usage_queries._person_daily_read(),
        {"person_id": alice, "start": WEEK - timedelta(days=13), "end": WEEK},
    )
    assert len(daily) == 20 and isinstance(daily[0][0], date)  # as stored: both sources
    # Put together per day, the report's requests count and the pushed events' do not.
    counted = usage_queries.person_daily(db, alice, WEEK - timedelta(days=13), WEEK)
    assert [d.totals.requests for d in counted] == [4 + back for back in range(9, -1, -1)]
    [award] = _same_rows(db, awards._latest_awards(), {"p": alice, "n": 5})
    assert award[2] == WEEK - timedelta(days=7)
    unranked = _same_rows(db, usage_queries._UNRANKED, {"week_start": WEEK})
    assert {row[0] for row in unranked} == {alice, bob}
    [state] = _same_rows(db, leaderboard._STATE, {})
    assert state[0] == "retired"

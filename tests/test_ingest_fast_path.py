"""A clean batch is validated by pydantic-core alone, with EventIn's Python checks made inline
(`bot.intake.event_batch._quick_record`). Each batch here is bad in one way only a Python
check catches, so nothing else sends it down the item-by-item path: the bad item must still
be named, and the good one stored."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from storage.models import IdentityRow
from tests.builders import bearer, event
from tests.readback import daily_usage

ONLY_PYTHON_CATCHES = {
    "future": ({"occurred_at": "2026-11-18T12:06:00Z"}, "occurred_at: is more than 5 minutes"),
    "before-2000": ({"occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at: is before 2000"),
    "overflow": ({"occurred_at": "0001-01-01T00:00:00+14:00"}, "out of range"),
    "accepted-above-shown": (
        {"suggestions_shown": 1, "suggestions_accepted": 2},
        "suggestions_accepted is more than suggestions_shown",
    ),
    "accepted-without-shown": (
        {"suggestions_accepted": 3},
        "suggestions_accepted needs suggestions_shown beside it",
    ),
    "long-attribute": ({"attributes": {"note": "x" * 257}}, "longer than 256 characters"),
    "no-user": ({"user": {}}, "give slack_user_id or email"),
    "null-user-fields": (
        {"user": {"slack_user_id": None, "email": None}},
        "give slack_user_id or email",
    ),
    "bad-email": ({"user": {"email": "dev @example.com"}}, "email is not a valid address"),
    # PostgreSQL's text cannot hold NUL: unchecked, it failed the whole batch there.
    "nul-in-model": ({"model": "gpt\u0000"}, "model: must not contain the NUL character"),
    "nul-in-tool": ({"tool": "\u0000"}, "tool: must not contain the NUL character"),
}


@pytest.mark.parametrize("case", list(ONLY_PYTHON_CATCHES))
def test_a_bad_item_only_python_checks_catch_is_named_and_the_rest_stored(
    client, api_key, db, case
):
    fields, message = ONLY_PYTHON_CATCHES[case]
    good = event(event_id="good", input_tokens=7, output_tokens=0)
    batch = [good, event(event_id=case, **fields)]
    answer = client.post("/api/v1/events", json={"events": batch}, headers=bearer(api_key)).json()
    assert answer["accepted"] == 1
    [rejected] = answer["rejected"]
    assert (rejected["index"], rejected["event_id"]) == (1, case)
    assert message in rejected["error"], rejected["error"]
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.totals.input_tokens, day.totals.events) == (7, 1)


def test_an_event_id_holding_nul_is_named_and_the_rest_stored(client, api_key, db):
    batch = [event(event_id="good", input_tokens=7), event(event_id="bad\u0000id")]
    answer = client.post("/api/v1/events", json={"events": batch}, headers=bearer(api_key)).json()
    assert answer["accepted"] == 1
    [rejected] = answer["rejected"]
    assert (rejected["index"], rejected["event_id"]) == (1, "bad\u0000id")
    assert "event_id: must not contain the NUL character" in rejected["error"]
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.totals.input_tokens, day.totals.events) == (7, 1)


def test_a_non_finite_cost_refuses_the_body_and_stores_nothing(client, api_key, db):
    # NaN is not JSON: pydantic reads it, the item-by-item path's parser refuses the body.
    good = b'{"event_id": "good", "user": {"slack_user_id": "UALICE"}, '
    good += b'"occurred_at": "2026-11-18T12:00:00Z", "input_tokens": 7}'
    body = b'{"events": [' + good + b", " + good.replace(b"good", b"nan")[:-1]
    body += b', "cost_usd": NaN}]}'
    headers = {**bearer(api_key), "Content-Type": "application/json"}
    response = client.post("/api/v1/events", content=body, headers=headers)
    assert response.status_code == 400 and "not valid JSON" in response.text
    assert daily_usage(db, date(2026, 11, 18), date(2026, 11, 18)) == []


def test_an_email_is_lower_cased_on_the_fast_path(client, api_key, db):
    batch = [event(user={"email": "Dev@Example.COM"}), event(user={"email": "dev@example.com"})]
    answer = client.post("/api/v1/events", json={"events": batch}, headers=bearer(api_key)).json()
    assert answer == {"accepted": 2, "duplicates": 0, "rejected": []}
    with db.read() as conn:
        emails = conn.execute(select(IdentityRow.value).where(IdentityRow.kind == "email")).all()
    assert [row[0] for row in emails] == ["dev@example.com"]

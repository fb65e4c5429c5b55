"""Numbers past what a 64-bit float or Python's int parsing holds, in one item of an API batch
or of a vendor report: that item is refused by name and the good ones beside it are kept, as
for any other bad value (JSON's grammar allows any number of digits and any exponent)."""

from __future__ import annotations

import json

from tests.builders import bearer, event
from tests.import_helpers import DATA, NOV16, figures
from tests.readback import daily_usage


def test_a_number_past_a_double_refuses_its_event_and_keeps_the_others(client, api_key, db, now):
    # orjson refuses 1e400 ("number is infinity"), so the whole batch was a 400 with it.
    items = [
        json.dumps(event(event_id="good", requests=3)),
        json.dumps(event(event_id="cost"))[:-1] + ', "cost_usd": 1e400}',
        json.dumps(event(event_id="requests"))[:-1] + ', "requests": -1e400}',
        json.dumps(event(event_id="tokens"))[:-1] + ', "input_tokens": 1' + "0" * 400 + "}",
    ]
    response = post_batch(client, api_key, items)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    assert [(r["index"], r["event_id"]) for r in answer["rejected"]] == [
        (1, "cost"),
        (2, "requests"),
        (3, "tokens"),
    ]
    assert answer["rejected"][0]["error"].startswith("cost_usd: ")
    assert answer["rejected"][2]["error"].startswith("input_tokens: ")
    [day] = daily_usage(db, now.date(), now.date())
    assert day.totals.requests == 3


def test_a_cursor_number_of_5000_digits_is_a_rejected_row_not_a_traceback(run, db, tmp_path):
    # Python's json refuses to turn more than 4,300 digits into an int with a ValueError
    # that is no JSONDecodeError: `aiusage import cursor` ended in a traceback, exit 1.
    rows = json.loads((DATA / "cursor_daily_usage.json").read_text())["data"][:2]
    huge = '{"email": "eve@example.com", "date": ' + str(rows[0]["date"])
    huge += ', "totalTabsShown": ' + "9" * 5000 + "}"
    report = tmp_path / "cursor.json"
    report.write_text(
        '{"data": [\n' + json.dumps(rows[0]) + ",\n" + huge + ",\n" + json.dumps(rows[1]) + "\n]}"
    )
    code, out, err = run("import", "cursor", report)
    assert code == 1, err
    assert "Traceback" not in err
    assert "cursor.json:3: totalTabsShown" in err
    assert len(err) < 1000  # the row is named, not its 5,000 digits
    assert "Imported 2 rows" in out
    assert {"email:dana@example.com", "email:eve@example.com"} & set(figures(db, NOV16, NOV16)) == {
        "email:dana@example.com"
    }


def test_a_copilot_array_with_a_number_past_a_double_keeps_its_other_records(run, db, tmp_path):
    # A report written as one JSON array is parsed whole: one 1e400 refused the whole file.
    records = [json.loads(line) for line in (DATA / "copilot_users_1_day.ndjson").open()][:2]
    bad = json.dumps(records[1])[:-1] + ', "totals_by_cli": {"prompt_count": 1e400}}'
    report = tmp_path / "copilot.json"
    report.write_text("[" + json.dumps(records[0]) + ",\n" + bad + "]")
    code, out, err = run("import", "copilot", report)
    assert code == 1, err
    assert "copilot.json:2: prompt_count must be a whole number" in err
    assert "Imported 1 row" in out
    assert "copilot:octocat" in figures(db, NOV16, NOV16)


def test_a_number_of_5000_digits_refuses_its_event_and_keeps_the_others(client, api_key, db, now):
    # pydantic-core, orjson's fallback, refuses more than 4,300 digits ("number out of
    # range"), as Python's int() does: the whole batch was a 400 for one item's value.
    items = [
        json.dumps(event(event_id="good", requests=3)),
        json.dumps(event(event_id="tokens"))[:-1] + ', "input_tokens": ' + "9" * 5000 + "}",
        json.dumps(event(event_id="cost"))[:-1] + ', "cost_usd": ' + "9" * 5000 + ".5}",
    ]
    response = post_batch(client, api_key, items)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    assert [(r["index"], r["event_id"]) for r in answer["rejected"]] == [(1, "tokens"), (2, "cost")]
    assert answer["rejected"][0]["error"].startswith("input_tokens: ")
    assert answer["rejected"][1]["error"].startswith("cost_usd: ")
    assert len(response.text) < 2000  # the item is named, not its 5,000 digits
    [day] = daily_usage(db, now.date(), now.date())
    assert day.totals.requests == 3


def test_the_long_number_path_still_refuses_what_json_refuses(client, api_key):
    # Read past 4,300 digits by Python's json, which on its own takes NaN and lone
    # surrogates: the batch stays refused as not JSON, as without the long number.
    long = "9" * 5000
    for tail in (', "cost_usd": NaN}', ', "user_name": "\\ud800"}', "} trailing"):
        item = json.dumps(event(event_id="x"))[:-1] + ', "input_tokens": ' + long + tail
        response = client.post(
            "/api/v1/events",
            content=('{"events": [' + item + "]}").encode(),
            headers={**bearer(api_key), "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (tail, response.text)
        assert response.json()["error"].startswith("body is not valid JSON"), response.text


def test_a_copilot_array_with_a_number_of_5000_digits_keeps_its_other_records(run, db, tmp_path):
    records = [json.loads(line) for line in (DATA / "copilot_users_1_day.ndjson").open()][:2]
    bad = json.dumps(records[1])[:-1] + ', "totals_by_cli": {"prompt_count": ' + "9" * 5000 + "}}"
    report = tmp_path / "copilot.json"
    report.write_text("[" + json.dumps(records[0]) + ",\n" + bad + "]")
    code, out, err = run("import", "copilot", report)
    assert code == 1, err
    assert "copilot.json:2: prompt_count must be a whole number" in err
    assert len(err) < 1000
    assert "Imported 1 row" in out
    assert "copilot:octocat" in figures(db, NOV16, NOV16)


def post_batch(client, api_key, items: list[str]):  # type: ignore[no-untyped-def]
    """A batch of events written out as JSON text by hand, as no JSON library would."""
    body = '{"events": [' + ", ".join(items) + "]}"
    return client.post(
        "/api/v1/events",
        content=body.encode(),
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )

"""POST /api/v1/events: what integrations send, and what they are told back."""

from __future__ import annotations

import gzip
from datetime import date

import orjson

from storage.integrations import revoke_integration
from tests.builders import bearer, event
from tests.readback import daily_usage


def post(client, key, body, **kwargs):
    return client.post("/api/v1/events", json=body, headers=bearer(key), **kwargs)


def test_a_single_event_is_accepted_and_counted(client, api_key, db):
    response = post(client, api_key, event(input_tokens=120, output_tokens=30))
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.tool, day.kind, day.totals.tokens, day.totals.requests) == (
        "claude-code",
        "agent",
        150,
        1,
    )


def test_a_batch_keeps_good_events_and_names_the_bad_ones(client, api_key, db):
    batch = [
        event(event_id="good-1"),
        event(event_id="bad-future", occurred_at="2026-11-18T12:06:00Z"),
        "not an object",
        event(event_id="bad-accept", suggestions_shown=1, suggestions_accepted=2),
        event(event_id="good-2"),
    ]
    answer = post(client, api_key, {"events": batch}).json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["event_id"]) for r in answer["rejected"]] == [
        (1, "bad-future"),
        (2, None),
        (3, "bad-accept"),
    ]
    assert "future" in answer["rejected"][0]["error"]
    assert "suggestions_accepted" in answer["rejected"][2]["error"]


def test_accepted_suggestions_come_with_the_suggestions_shown(client, api_key, db):
    # Each event alone kept accepted <= shown, yet the day summed 10,100 accepted of 100.
    batch = [
        event(event_id="both", suggestions_shown=100, suggestions_accepted=100),
        event(event_id="accepted-only", suggestions_accepted=10_000),
        event(event_id="lines-only", lines_accepted=40),  # lines are no share of suggestions
    ]
    answer = post(client, api_key, {"events": batch}).json()
    assert answer["accepted"] == 2
    assert [(r["event_id"], r["error"]) for r in answer["rejected"]] == [
        ("accepted-only", "event: suggestions_accepted needs suggestions_shown beside it")
    ]
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.totals.suggestions_shown, day.totals.suggestions_accepted) == (100, 100)
    assert day.totals.lines_accepted == 40


def test_each_field_rule_is_explained(client, api_key):
    cases = {
        "naive-time": ({"occurred_at": "2026-11-18T12:00:00"}, "occurred_at"),
        "negative": ({"input_tokens": -1}, "input_tokens"),
        "string-number": ({"requests": "3"}, "requests"),
        "bad-kind": ({"kind": "vibes"}, "kind"),
        "no-user": ({"user": {}}, "slack_user_id or email"),
        "unknown-field": ({"inputTokens": 5}, "inputTokens: is not a known field"),
        "nested-attributes": ({"attributes": {"a": {"b": 1}}}, "attributes"),
        "long-tool": ({"tool": "x" * 65}, "tool"),
    }
    batch = [event(event_id=name, **fields) for name, (fields, _) in cases.items()]
    rejected = post(client, api_key, {"events": batch}).json()["rejected"]
    assert [r["event_id"] for r in rejected] == list(cases)
    for r in rejected:
        assert cases[r["event_id"]][1] in r["error"], r


def test_times_costs_and_tools_are_held_to_the_contract_s_types(client, api_key, db):
    # Read before as Unix times, numbers and a tool: each one's sender meant something else.
    timestamp = "must be an RFC 3339 timestamp with offset"
    cases = {
        "time-as-int": ({"occurred_at": 1_795_003_140}, timestamp),
        "time-as-digits": ({"occurred_at": "1795003140"}, timestamp),
        "time-as-float": ({"occurred_at": 1_795_003_140.5}, timestamp),
        "cost-as-text": ({"cost_usd": "1.5"}, "cost_usd: Input should be a valid number"),
        "cost-as-bool": ({"cost_usd": True}, "cost_usd: Input should be a valid number"),
        "blank-tool": ({"tool": " \t"}, "tool: must not be blank"),
    }
    batch = [event(event_id=name, **fields) for name, (fields, _) in cases.items()]
    batch.append(event(event_id="whole-dollars", cost_usd=2, tool="claude-code"))
    answer = post(client, api_key, {"events": batch}).json()
    assert answer["accepted"] == 1
    assert [(r["event_id"], cases[r["event_id"]][1] in r["error"]) for r in answer["rejected"]] == [
        (name, True) for name in cases
    ]
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.tool, day.totals.cost_usd) == ("claude-code", 2.0)


def test_a_cost_of_minus_zero_is_stored_as_zero(client, api_key, db):
    # PostgreSQL kept the sign, and reports printed "-0.0".
    for body in (event(cost_usd=-0.0), {"events": [event(cost_usd=-0.0), event(tool="\u0000")]}):
        assert post(client, api_key, body).json()["accepted"] == 1  # the quick path, the other
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert str(day.totals.cost_usd) == "0.0"


def test_a_resent_event_is_a_duplicate_not_a_second_event(client, api_key, db):
    first = post(client, api_key, {"events": [event(event_id="a"), event(event_id="b")]})
    again = post(client, api_key, {"events": [event(event_id="b"), event(event_id="c")]})
    assert first.json()["accepted"] == 2
    assert again.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.totals.events == 3


def test_the_same_event_twice_in_one_batch_counts_once(client, api_key, db):
    answer = post(client, api_key, {"events": [event(event_id="x"), event(event_id="x")]}).json()
    assert answer == {"accepted": 1, "duplicates": 1, "rejected": []}


def test_event_ids_are_scoped_to_their_integration(client, api_key, db, now):
    from storage.integrations import create_integration

    _, other_key = create_integration(db, "copilot", now)
    post(client, api_key, event(event_id="shared"))
    assert post(client, other_key, event(event_id="shared")).json()["accepted"] == 1


def test_keys_that_are_missing_wrong_or_revoked_get_401(client, api_key, db, now):
    assert client.post("/api/v1/events", json=event()).status_code == 401
    assert post(client, "aiu_nothing_here", event()).status_code == 401
    tampered = api_key[:-2] + ("AA" if not api_key.endswith("AA") else "BB")
    assert post(client, tampered, event()).status_code == 401
    assert post(client, api_key, event()).status_code == 200
    revoke_integration(db, "claude-code", now)
    response = post(client, api_key, event())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_bodies_that_are_not_json_or_not_the_shape_store_nothing(client, api_key, db):
    headers = {**bearer(api_key), "Content-Type": "application/json"}
    not_json = client.post("/api/v1/events", content=b"{nope", headers=headers)
    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["error"]
    for body, status in [
        ([event()], 422),
        ({"events": []}, 422),
        ({"events": [event()] * 1001}, 422),
        ({"events": [event()], "extra": 1}, 422),
        ({"events": "lots"}, 422),
    ]:
        response = post(client, api_key, body)
        assert response.status_code == status, body
        assert response.json()["error"]
    assert daily_usage(db, date(2026, 1, 1), date(2026, 12, 31)) == []


def test_a_body_over_one_mebibyte_is_413(client, api_key):
    big = {"events": [event(attributes={"pad": "x" * 250, "n": i}) for i in range(1000)]}
    big["events"][0]["model"] = "m" * 100
    body = orjson.dumps(big) + b" " * (1024 * 1024)
    headers = {**bearer(api_key), "Content-Type": "application/json"}
    assert client.post("/api/v1/events", content=body, headers=headers).status_code == 413


def test_offsets_other_than_utc_land_on_the_right_day(client, api_key, db):
    # 2026-11-17 23:30 at -05:00 is 04:30 UTC on the 18th: the zone here is UTC.
    answer = post(client, api_key, event(occurred_at="2026-11-17T23:30:00-05:00")).json()
    assert answer["accepted"] == 1
    [day] = daily_usage(db, date(2026, 11, 1), date(2026, 11, 30))
    assert day.day == date(2026, 11, 18)


def test_unicode_survives_the_round_trip(client, api_key, db):
    answer = post(
        client,
        api_key,
        event(event_id="é-✓-漢字", tool="outil-é", attributes={"note": "naïve 🚀"}),
    ).json()
    assert answer["accepted"] == 1
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.tool == "outil-é"


def test_tool_defaults_to_the_integration_name(client, api_key, db):
    body = event()
    del body["tool"]
    post(client, api_key, body)
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.tool == "claude-code"


def test_hundreds_of_events_for_one_person_and_day_sum_exactly(client, api_key, db):
    batch = [
        event(
            event_id=f"e{i}",
            input_tokens=i,
            output_tokens=1,
            suggestions_shown=2,
            suggestions_accepted=i % 2,
            cost_usd=0.01,
        )
        for i in range(1000)
    ]
    assert post(client, api_key, {"events": batch}).json()["accepted"] == 1000
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.totals.requests == 1000
    assert day.totals.input_tokens == sum(range(1000))
    assert day.totals.output_tokens == 1000
    assert day.totals.suggestions_shown == 2000
    assert day.totals.suggestions_accepted == 500
    assert round(day.totals.cost_usd, 6) == 10.0


def test_an_email_without_a_slack_user_is_kept_until_the_person_is_known(client, api_key, db, now):
    from storage.people import link_email

    post(client, api_key, event(user={"email": "Dana@Example.com"}))
    assert daily_usage(db, date(2026, 11, 18), date(2026, 11, 18)) == []
    link_email(db, "dana@example.com", "UDANA", now)
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.totals.requests == 1


def test_gzip_bodies_are_refused_clearly_when_not_declared(client, api_key):
    body = gzip.compress(orjson.dumps(event()))
    headers = {**bearer(api_key), "Content-Type": "application/json"}
    assert client.post("/api/v1/events", content=body, headers=headers).status_code == 400


def test_a_gzip_body_is_read_when_declared_and_held_to_one_mebibyte_inflated(client, api_key, db):
    headers = {**bearer(api_key), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    batch = {"events": [event(event_id=f"z{i}", input_tokens=10) for i in range(3)]}
    sent = client.post(
        "/api/v1/events", content=gzip.compress(orjson.dumps(batch)), headers=headers
    )
    assert sent.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    legacy = {**headers, "Content-Encoding": "x-gzip"}  # the old name HTTP still honours
    again = client.post(
        "/api/v1/events", content=gzip.compress(orjson.dumps(batch)), headers=legacy
    )
    assert again.json() == {"accepted": 0, "duplicates": 3, "rejected": []}
    # 1 MiB and one byte of spaces after a valid batch: a few kilobytes sent, too big inflated
    bomb = gzip.compress(orjson.dumps(batch) + b" " * (1024 * 1024 + 1))
    assert len(bomb) < 5_000
    refused = client.post("/api/v1/events", content=bomb, headers=headers)
    assert (refused.status_code, refused.json()) == (
        413,
        {"error": "decompressed body is larger than 1048576 bytes"},
    )
    # what it says it is, or a clear refusal; nothing of these is stored
    plain = client.post(
        "/api/v1/events", content=orjson.dumps(event(event_id="p")), headers=headers
    )
    assert plain.status_code == 400 and "not valid gzip" in plain.json()["error"]
    cut = client.post(
        "/api/v1/events", content=gzip.compress(orjson.dumps(batch))[:-8], headers=headers
    )
    assert (cut.status_code, cut.json()) == (400, {"error": "gzip body is truncated"})
    brotli = client.post(
        "/api/v1/events", content=b"\x1b", headers={**headers, "Content-Encoding": "br"}
    )
    assert brotli.status_code == 415 and brotli.headers["accept-encoding"] == "gzip"
    assert "'br' is not supported; use gzip" in brotli.json()["error"]
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.totals.input_tokens, day.totals.events) == (30, 3)


def test_shipped_work_is_summed_and_unknown_stays_unknown(client, api_key, db):
    batch = [
        event(event_id="c1", commits=2, pull_requests=1),
        event(event_id="c2", commits=3),
        event(event_id="c3", tool="copilot"),  # says nothing of shipped work
    ]
    assert post(client, api_key, {"events": batch}).json()["accepted"] == 3
    by_tool = {d.tool: d.totals for d in daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))}
    assert (by_tool["claude-code"].commits, by_tool["claude-code"].pull_requests) == (5, 1)
    assert (by_tool["copilot"].commits, by_tool["copilot"].pull_requests) == (None, None)
    assert (
        "commits"
        in client.get("/openapi.json").json()["components"]["schemas"]["EventIn"]["properties"]
    )


def test_shipped_work_keeps_the_bounds_of_every_figure(client, api_key, db):
    cases = {
        "negative": {"commits": -1},
        "huge": {"pull_requests": 10**12 + 1},
        "beyond-int64": {"commits": 2**64},
        "fraction": {"commits": 1.5},
        "string": {"pull_requests": "3"},
        "bool": {"commits": True},
        "sql": {"commits": "1; DROP TABLE usage_daily"},
    }
    batch = [event(event_id=name, **fields) for name, fields in cases.items()]
    batch.append(event(event_id="largest", commits=10**12, pull_requests=0))
    answer = post(client, api_key, {"events": batch}).json()
    assert [r["event_id"] for r in answer["rejected"]] == list(cases)
    for r in answer["rejected"]:
        assert "commits" in r["error"] or "pull_requests" in r["error"], r
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.totals.commits, day.totals.pull_requests) == (10**12, 0)


def test_a_rejected_item_is_named_in_a_few_words_however_many_problems_it_has(client, api_key):
    # Every problem of every item was listed in full: 1,000 events of 32 list attributes
    # (448 KB) were answered with 6.8 MB of errors and held a decode slot for 2 s. An item
    # is named by its first few problems, each cut short, then how many more it had.
    lists = [
        event(event_id=f"lists-{i}", attributes={f"k{j}": [] for j in range(32)}) for i in range(50)
    ]
    unknown = {**event(event_id="unknown"), **{f"field{j}": 0 for j in range(50)}}
    long_key = {**event(event_id="long-key"), "x" * 5000: 0, "attributes": {"y" * 5000: []}}
    body = orjson.dumps({"events": [*lists, unknown, long_key]})
    response = client.post(
        "/api/v1/events",
        content=body,
        headers={**bearer(api_key), "Content-Type": "application/json"},
    )
    answer = response.json()
    assert answer["accepted"] == 0 and len(answer["rejected"]) == 52
    assert len(response.content) < len(body) / 2
    errors = {r["event_id"]: r["error"] for r in answer["rejected"]}
    assert errors["lists-0"] == "attributes.k0: must be a string, number, true, false or null"
    assert errors["unknown"] == (
        "field0: is not a known field; field1: is not a known field; "
        "field2: is not a known field; and 47 more"
    )
    assert errors["long-key"] == (  # the paths the sender chose, cut at 80 characters
        f"attributes.{'y' * 68}…: String should have at most 64 characters; "
        f"{'x' * 79}…: is not a known field"
    )

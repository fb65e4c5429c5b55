"""One definition of a valid identity at every door, and caches that stay bounded however
many identities arrive."""

from __future__ import annotations

from datetime import date

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)

from bot.cli.main import main
from storage import bounds
from storage.lru import BoundedCache
from storage.people import link_email
from tests.builders import event
from tests.otlp.helpers import DELTA, metrics, point, send
from tests.readback import daily_usage
from tests.test_ingest_api import post


def test_a_stream_of_new_identities_keeps_the_identity_cache_bounded(client, api_key, db):
    db.identity_ids.limit = 50
    emails = [f"person{i}@example.com" for i in range(300)]
    for start in range(0, 300, 100):
        batch = [event(user={"email": email}) for email in emails[start : start + 100]]
        assert post(client, api_key, {"events": batch}).json()["accepted"] == 100
    assert len(db.identity_ids) == 50
    # Identities forgotten by the cache are found again, not made twice.
    again = [event(user={"email": email.upper()}) for email in emails[:100]]
    assert post(client, api_key, {"events": again}).json()["accepted"] == 100
    day = date(2026, 11, 18)
    assert (
        main(["report", "--from", day.isoformat(), "--to", day.isoformat(), "--format", "json"])
        == 0
    )


def test_bounded_cache_forgets_the_least_recently_used():
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1  # a is now the most recent
    cache["c"] = 3
    assert "b" not in cache and cache["a"] == 1 and cache["c"] == 3 and len(cache) == 2
    with pytest.raises(KeyError):
        cache["b"]
    assert cache.pop("a") == 1 and cache.pop("a") is None and cache.items() == [("c", 3)]
    cache.clear()
    assert len(cache) == 0 and list(cache) == []


@pytest.mark.parametrize(
    "identity",
    ["dev @example.com", "copilot:tab\there", "a" * 321, "x@" + "b" * 320, "email:no at sign"],
)
def test_people_link_refuses_identities_every_door_refuses(db, capsys, identity):
    assert main(["people", "link", identity, "UDEV"]) == 2
    assert capsys.readouterr().err.startswith("aiusage: ")


@pytest.mark.parametrize("user_id", ["UDEV\n", "UDEV\nUEVE", " UDEV", "udev", "U1"])
def test_people_link_refuses_a_slack_user_id_every_door_refuses(db, capsys, user_id):
    # `re.match` with `$` let a trailing newline through, which the ingestion API refuses.
    assert main(["people", "link", "dev@example.com", user_id]) == 2
    assert "is not a Slack user ID" in capsys.readouterr().err


def test_the_same_address_is_one_identity_whichever_door_it_came_through(client, api_key, db):
    assert bounds.email("Dev@Example.COM") == "dev@example.com"
    assert post(client, api_key, event(user={"email": "Dev@Example.COM"})).json()["accepted"] == 1
    assert main(["people", "link", "DEV@example.com", "UDEV"]) == 0
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.totals.input_tokens == 100


SPACED = [" dev@example.com ", "dev@example.com\u00a0", "  octocat "]


@pytest.mark.parametrize("spaced", SPACED)
def test_an_identity_with_spaces_at_its_ends_is_refused_by_name_at_both_doors(
    client, api_key, db, now, spaced
):
    """`storage/bounds.py` keeps no spaces at an identity's ends. The API refused such an
    email by index; OTLP trimmed it and counted the point, so one person's usage was kept by
    one door and refused by the other."""
    if "@" in spaced:
        answer = post(client, api_key, {"events": [event(user={"email": spaced}), event()]})
        assert answer.json()["accepted"] == 1 and answer.json()["rejected"][0]["index"] == 0
    developer = link_email(db, "dev@example.com", "UDEV", now)  # the resource's person

    good = point(2, type="output", model="claude-sonnet-4-5")
    bad = point(1, type="input", model="claude-sonnet-4-5", user__email=spaced)
    message = metrics(("claude_code.token.usage", [bad, good]), temporality=DELTA)
    response = send(client, api_key, message)
    assert response.status_code == 200
    partial = ExportMetricsServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_data_points == 1
    assert repr(spaced) in partial.error_message
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18), [developer])
    assert (day.totals.input_tokens, day.totals.output_tokens) == (0, 2)
    assert all(value == value.strip() for _, value in db.identity_ids)

"""One definition of a valid identity at every door, and caches that stay bounded however
many identities arrive."""

from __future__ import annotations

from datetime import date

import pytest

from bot.cli.main import main
from storage import bounds
from storage.lru import BoundedCache
from tests.builders import event
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

"""The App Home's chart: the chart endpoint's signed tokens and cache, the upload to Slack
without a public URL, and the text chart without the files scope."""

from __future__ import annotations

import io
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from PIL import Image
from starlette.testclient import TestClient

from bot.composition import create_http_app, home_service
from bot.slack.chart_tokens import ChartRef, chart_key, sign
from storage.profiles import find_slack_profile, slack_user_of
from tests.builders import event
from tests.home.helpers import (
    PUBLIC_URL,
    chart_file,
    chart_url,
    check_block_kit_limits,
    ingest,
    open_home,
    without_public_url,
)
from tests.slack_command_helpers import text_of
from tests.slack_requests import SIGNING_SECRET

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


# -- the chart endpoint's tokens ---------------------------------------------------------------


def test_chart_tokens_valid_expired_tampered_forged_and_another_persons(slack, now):
    view = open_home(slack)
    path = chart_url(view).removeprefix(PUBLIC_URL)
    assert slack.http.get(path).status_code == 200

    token = path.removeprefix("/charts/").removesuffix(".png")
    body, mac = token.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (
        f"{flipped}.{mac}",  # payload altered
        f"{body}.{mac[:-1]}",  # MAC cut
        "x",
        "../../etc/passwd",
        "a" * 5000,
        # a token made with another key (a guess at the signing secret)
        sign(chart_key("not-the-secret"), ChartRef(1, "2026-W47", "trend", "UALICE"), now),
    ):
        response = slack.http.get(f"/charts/{bad}.png")
        assert response.status_code == 404, bad
        assert response.headers["content-type"].startswith("text/plain")

    # Another person's chart needs a token naming them, which only the server can make.
    key = chart_key(SIGNING_SECRET)
    open_home(slack, user_id="UBOB", count=2)  # Bob is known from his own Home
    bob = find_slack_profile(slack.services.db, "UBOB").person_id
    bob_user = slack_user_of(slack.services.db, bob)
    payload = json.dumps({"p": bob})
    assert slack.http.get(f"/charts/{payload}.png").status_code == 404
    assert (
        slack.http.get(
            f"/charts/{sign(key, ChartRef(bob, '2026-W47', 'trend', bob_user), now)}.png"
        ).status_code
        == 200
    )
    # A token for a person row that is now someone else's (SQLite reuses a forgotten
    # person's id) shows nothing.
    someone_else = sign(key, ChartRef(bob, "2026-W47", "trend", "UFORGOTTEN"), now)
    assert slack.http.get(f"/charts/{someone_else}.png").status_code == 404

    # An unknown chart kind or week is refused even when signed.
    assert (
        slack.http.get(
            f"/charts/{sign(key, ChartRef(1, '2026-W47', 'pie', 'UALICE'), now)}.png"
        ).status_code
        == 404
    )
    assert (
        slack.http.get(
            f"/charts/{sign(key, ChartRef(1, '2026-W99', 'trend', 'UALICE'), now)}.png"
        ).status_code
        == 404
    )

    # Past its expiry the same URL stops working.
    slack.move_to(now + timedelta(hours=24, seconds=1))
    assert slack.http.get(path).status_code == 404


def test_the_chart_endpoint_caches_renders_and_sees_new_usage(slack, api_key):
    view = open_home(slack)
    path = chart_url(view).removeprefix(PUBLIC_URL)
    # The same app `serve` builds, with its Home service (and chart cache) in hand.
    home = home_service(slack.services)
    with TestClient(create_http_app(slack.services, home=home)) as http:
        first = http.get(path).content
        assert (home.cache.hits, home.cache.misses) == (0, 1)
        assert http.get(path).content == first
        assert (home.cache.hits, home.cache.misses) == (1, 1)
        ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=50))
        changed = http.get(path).content
    assert changed != first and home.cache.misses == 2


def test_a_chart_fetched_many_times_at_once_is_drawn_once(slack):
    """Slack's image proxy and each client showing the Home fetch a chart URL, often at the
    same moment: they share the one render under way rather than each drawing the PNG."""
    path = chart_url(open_home(slack)).removeprefix(PUBLIC_URL)
    home = home_service(slack.services)
    fetches = 6
    together = threading.Barrier(fetches)

    def fetch(http: TestClient) -> bytes:
        together.wait()
        response = http.get(path)
        assert response.status_code == 200
        return response.content

    with (
        TestClient(create_http_app(slack.services, home=home)) as http,
        ThreadPoolExecutor(fetches) as pool,
    ):
        pngs = list(pool.map(fetch, [http] * fetches))
    assert len(set(pngs)) == 1
    assert (home.cache.misses, home.cache.hits) == (1, fetches - 1)


def test_without_a_public_url_the_chart_is_uploaded_to_slack(slack, api_key):
    without_public_url(slack)
    view = open_home(slack)
    check_block_kit_limits(view)
    [image] = [b for b in view["blocks"] if b["type"] == "image"]
    file_id = image["slack_file"]["id"]
    assert "image_url" not in image and "Requests per week" in image["alt_text"]
    png = slack.fake.files[file_id]["content"]
    assert Image.open(io.BytesIO(png)).size == (800, 60 + 160 * 3)
    # Opening again with the same figures reuses the file; new usage replaces it.
    assert chart_file(open_home(slack, count=2)) == file_id
    ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=50))
    replaced = chart_file(open_home(slack, count=3))
    assert replaced != file_id and file_id not in slack.fake.files
    assert len(slack.fake.calls_to("file_upload")) == 2


def test_without_the_files_scope_home_shows_a_text_chart(slack):
    without_public_url(slack)
    slack.fake.fail("files.getUploadURLExternal", error="missing_scope")
    view = open_home(slack)
    assert not [b for b in view["blocks"] if b["type"] == "image"]
    text = text_of(view)
    assert "*Your last 12 weeks*" in text
    assert re.search(r"```Requests per week, by tool\n", text)
    # The scope does not appear by itself: uploads are not tried again.
    open_home(slack, count=2)
    assert len(slack.fake.calls_to("files.getUploadURLExternal")) == 1


def test_the_text_chart_shows_tool_names_as_text(slack, api_key):
    # A tool name is whatever an integration sends for a person: in the text chart's code
    # block it could link, mention, or end the block early, as nowhere else it can.
    names = ["<https://ev.il|Re-login>", "```<!here>", "<@UBOB>", "tab\tname\u202e"]
    ingest(slack, api_key, *(event(event_id=name, tool=name, kind="chat") for name in names))
    without_public_url(slack)
    slack.fake.fail("files.getUploadURLExternal", error="missing_scope")
    [chart] = [
        b["text"]["text"] for b in open_home(slack)["blocks"] if "12 weeks" in str(b.get("text"))
    ]
    body = chart.split("```")[1]  # the block holds the whole chart, then ends
    assert chart.endswith("```") and chart.count("```") == 2
    assert "<" not in body and ">" not in body
    assert "&lt;https\u2236//ev\u2024il|Re-login&gt;" in body and "&lt;@UBOB&gt;" in body
    assert "'''&lt;!here&gt;" in body and "tab?name?" in body

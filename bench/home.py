"""Benchmark the App Home: publish time (event to `views.publish`), chart render time, and
the chart cache, through the real signed endpoint and `GET /charts/…`.

Loads synthetic usage (people x days) into a throw-away SQLite database (or
AIUSAGE_BENCH_DATABASE_URL), serves the real app with uvicorn on loopback against a fake Slack,
and opens Home tabs as Slack would. Quick by default; the issue's size is:

    python bench/home.py --people 20000 --days 365
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from slash import load, percentile  # noqa: E402

from bot.charts import render_png  # noqa: E402
from bot.composition import build_services, create_bolt_app, create_http_app, home_service  # noqa: E402
from bot.demo.fake_slack import FakeSlack  # noqa: E402
from bot.demo.signed_requests import app_home_opened, signed_headers  # noqa: E402
from bot.demo.walkthrough import serving  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.slack.home_chart import chart_size, chart_weeks, trend_chart  # noqa: E402
from jobs.weeks import current_week, local_day  # noqa: E402
from storage.profiles import find_slack_profile, save_slack_profile  # noqa: E402
from storage.usage_queries import person_daily  # noqa: E402

SECRET = "bench-signing-secret"
PUBLIC_URL = "https://aiusage.example.com"


def summary(name: str, samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return (
        f"{name:<34} n={len(ms):<4} p50 {statistics.median(ms):7.1f} ms   "
        f"p99 {percentile(ms, 99):7.1f} ms   max {max(ms):7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--opens", type=int, default=200, help="Home opens timed")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="aiusage-bench-")
    fake = FakeSlack().start()
    os.environ.update(
        {
            "AIUSAGE_DATABASE_URL": os.environ.get(
                "AIUSAGE_BENCH_DATABASE_URL", f"sqlite:///{Path(tmp.name) / 'bench.db'}"
            ),
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "AIUSAGE_PUBLIC_URL": PUBLIC_URL,
        }
    )
    services = build_services(load_settings(), migrate=True)
    now = datetime.now(UTC)
    started = time.monotonic()
    rows = load(services.db, args.people, args.days, now)
    print(
        f"loaded {args.people:,} people x {args.days} days: {rows:,} rollup rows "
        f"in {time.monotonic() - started:.1f} s ({services.db.url.get_backend_name()})"
    )
    users = [
        f"U{n * (args.people // args.opens or 1) % args.people:07d}" for n in range(args.opens)
    ]
    for user in users:  # known people: Slack is not asked who they are
        fake.add_user(user, tz="UTC")
        save_slack_profile(
            services.db, user, display_name=user, tz="UTC", is_workspace_admin=False, now=now
        )

    # The chart alone, in-process: data from the database, then the PNG.
    tz = services.settings.timezone
    week, today = current_week(now, tz), local_day(now, tz)
    home = home_service(services)
    charts = []
    for user in users[:50]:
        person_id = find_slack_profile(services.db, user).person_id
        daily = person_daily(services.db, person_id, chart_weeks(week)[0].start, today)
        charts.append(trend_chart(daily, week, today))
    render_png(charts[0], *chart_size(charts[0]))  # fonts load once
    renders, cpu = [], []
    for chart in charts:
        t0, c0 = time.perf_counter(), time.thread_time()
        render_png(chart, *chart_size(chart))
        renders.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    panels = sorted({len(c.panels) for c in charts})
    print(summary(f"render_png ({panels} panels), wall", renders))
    # CPU time is what a render costs whatever else the machine is doing.
    print(summary("render_png, CPU time", cpu))

    executor = ThreadPoolExecutor(max_workers=8)
    bolt = create_bolt_app(services, executor, home)
    assert bolt is not None
    with serving(create_http_app(services, bolt=bolt, home=home)) as base_url:
        url = urlparse(base_url)
        conn = http.client.HTTPConnection(url.hostname, url.port)

        def open_home(user: str) -> tuple[float, float, str]:
            """(ack time, time until views.publish is seen, chart URL)."""
            before = len(fake.calls_to("views.publish"))
            body = app_home_opened(user)
            t0 = time.perf_counter()
            conn.request(
                "POST",
                "/slack/events",
                body=body,
                headers=signed_headers(body, "application/json", secret=SECRET),
            )
            response = conn.getresponse()
            response.read()
            acked = time.perf_counter() - t0
            assert response.status == 200
            while len(fake.calls_to("views.publish")) <= before:
                time.sleep(0.0005)
            published = time.perf_counter() - t0
            view = fake.calls_to("views.publish")[-1].params["view"]
            view = json.loads(view) if isinstance(view, str) else view
            [image] = [b for b in view["blocks"] if b["type"] == "image"]
            return acked, published, image["image_url"].removeprefix(PUBLIC_URL)

        def get(path: str) -> float:
            t0 = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200 and body.startswith(b"\x89PNG"), response.status
            return time.perf_counter() - t0

        open_home(users[0])  # auth.test and connection warm-up
        acks, publishes, paths = [], [], []
        for user in users:
            acked, published, path = open_home(user)
            acks.append(acked)
            publishes.append(published)
            paths.append(path)
        print(summary("event ack (HTTP 200 to Slack)", acks))
        print(summary("open -> views.publish (first open)", publishes))
        again = [open_home(user)[1] for user in users]
        print(summary("open -> views.publish (again)", again))
        cold = [get(path) for path in paths]
        print(summary("GET /charts (cold: renders)", cold))
        cached = [get(path) for path in paths]
        print(summary("GET /charts (cached)", cached))
        cache = home.cache
        print(f"chart cache: {cache.hits} hits, {cache.misses} misses, {len(cache._items)} kept")
        conn.close()
    executor.shutdown()
    home.close()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

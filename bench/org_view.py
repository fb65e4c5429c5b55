"""Benchmark `/aiusage org` and `report --by team`.

Loads synthetic usage (people x days, the people in teams of about 50, some in two teams)
into a throw-away SQLite database, then times the org view as the Slack listener computes it
(`OrgService.answer` plus Block Kit rendering): the first answer (cold: nothing cached),
then repeated answers (warm), for the organisation and for single teams; and the grouped
report for a quarter, as `aiusage report --by team` computes it. Quick by default; the
issue's size is:

    python bench/org_view.py --people 20000 --teams 400 --days 365
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# AIUSAGE_BENCH_ROOT: another checkout's code (main's, for a baseline in the same run).
ROOT = Path(os.environ.get("AIUSAGE_BENCH_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from slash import load  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot.cli.group_report import grouped_records  # noqa: E402
from bot.composition import build_services  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.slack.answers import Viewer  # noqa: E402
from bot.slack.org_service import OrgService, trend_weeks  # noqa: E402
from bot.slack.views.render import render  # noqa: E402
from jobs.weeks import current_week  # noqa: E402
from storage.bulk import upsert_daily  # noqa: E402
from storage.figures import NAMES  # noqa: E402
from storage.people import resolve_identities  # noqa: E402
from storage.teams import replace_teams  # noqa: E402


def org_weeks(now: datetime) -> list:  # type: ignore[type-arg]
    return trend_weeks(current_week(now, ZoneInfo("UTC")))


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measured(fn):  # type: ignore[no-untyped-def]
    """Run `fn`; its result, wall ms, CPU ms (every thread of the process) and the 1-minute
    load average after it."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result, wall * 1000, cpu * 1000, os.getloadavg()[0]


def land_today(db, changed: list[str], now: datetime, revised: date) -> None:  # type: ignore[no-untyped-def]
    """Today's usage of `changed`, and the first one's revision of `revised`."""
    with db.write() as conn:
        ids = resolve_identities(conn, [("slack", who) for who in changed], now)
        upsert_daily(
            conn,
            [
                {
                    **dict.fromkeys(NAMES),
                    "identity_id": ids[("slack", who)],
                    "day": day,
                    "tool": "cursor",
                    "kind": "chat",
                    "origin": "events",
                    "requests": 1,
                    "input_tokens": 10,
                    "output_tokens": 5,
                    "events": 1,
                }
                for who in changed
                for day in ((now.date(), revised) if who == changed[0] else (now.date(),))
            ],
            replace=False,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--teams", type=int, default=40)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=50, help="timed warm answers")
    parser.add_argument(
        "--changed",
        type=int,
        default=1,
        help="people whose usage landed today since the weekly rollup's last pass",
    )
    parser.add_argument("--db", help="keep the SQLite file here (loaded only if new)")
    parser.add_argument("--url", help="a database URL instead (PostgreSQL; loaded if empty)")
    parser.add_argument("--load-only", action="store_true", help="load --db and stop")
    args = parser.parse_args()
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(args.db or f"{workdir}/bench.db")
        url = args.url or f"sqlite:///{path}"
        existed = path.exists()
        settings = load_settings(AIUSAGE_DATABASE_URL=url, AIUSAGE_ADMINS="UADMIN")
        (services, upgrade_ms, _, _) = measured(
            lambda: build_services(settings, clock=lambda: now, migrate=True)
        )
        if args.url:
            with services.db.read() as conn:
                fresh = conn.execute(text("SELECT 1 FROM usage_daily LIMIT 1")).first() is None
        else:
            fresh = not existed
        print(f"code: {ROOT}; load average at start {os.getloadavg()}")
        if fresh:
            started = time.perf_counter()
            rows = load(services.db, args.people, args.days, now)
            teams: dict[str, list[tuple[str, str]]] = {
                f"team-{t:03d}": [] for t in range(args.teams)
            }
            for n in range(args.people):
                teams[f"team-{n % args.teams:03d}"].append(("slack", f"U{n:07d}"))
                if n % 10 == 0:  # a tenth of people are in a second team as well
                    teams[f"team-{(n + 1) % args.teams:03d}"].append(("slack", f"U{n:07d}"))
            replace_teams(services.db, "csv", teams, now)
            print(
                f"loaded {args.people:,} people x {args.days} days ({rows:,} rollup rows) in "
                f"{args.teams} teams in {time.perf_counter() - started:.1f}s"
            )
        else:
            print(f"reused {args.url or path}; opening and upgrading it took {upgrade_ms:.0f} ms")
        if args.load_only:
            services.db.dispose()
            return 0
        quarter_end = date(2026, 11, 15)
        quarter_start = quarter_end - timedelta(days=90)
        table = ["| measure | wall ms | CPU ms | load (1 min) |", "|---|---:|---:|---:|"]

        def row(name: str, wall: float, cpu: float, load_avg: float) -> None:
            table.append(f"| {name} | {wall:,.0f} | {cpu:,.0f} | {load_avg:.1f} |")

        if (ROOT / "storage" / "weekly.py").exists():  # this branch's weekly rollup
            from storage.weekly import fresh_weeks

            first = min(quarter_start, org_weeks(now)[0].start)
            _, *m = measured(lambda: fresh_weeks(services.db, first, now.date()))
            row("weekly rollup: first build after the upgrade (all weeks)", *m)
        # What `serve` always has: usage landing today since the scheduled pass of the weekly
        # rollup (every five minutes on this branch; on main the marks stay until a read),
        # and a connector's look-back revising last Sunday, so this week and last are marked.
        changed = [f"U{n * max(1, args.people // args.changed):07d}" for n in range(args.changed)]
        land_today(services.db, changed, now, quarter_end)
        print(f"{len(changed)} people changed since the last pass")
        viewer = Viewer("UADMIN", 0, ZoneInfo("UTC"), False)
        org = OrgService(services)

        def answer(team: str | None) -> float:
            t0 = time.perf_counter()
            render(org.answer(viewer, team))
            return (time.perf_counter() - t0) * 1000

        _, *m = measured(lambda: answer(None))
        row("org, cold (a new process, no warm-up)", *m)
        again = OrgService(services)  # another new process: nothing marked since the last
        _, *m = measured(lambda: render(again.answer(viewer, None)))
        row("org, cold again in a new process (no week marked)", *m)
        warm = [answer(None) for _ in range(args.requests)]
        _, *m = measured(lambda: answer("team-001"))
        row("org TEAM, first team asked", *m)
        # Each team's first ask reads its own trend; asked again, it is answered warm.
        teams = [f"team-{i % args.teams:03d}" for i in range(args.requests)]
        team_first = [answer(team) for team in teams]
        team_warm = [answer(team) for team in teams]
        (report, *m) = measured(
            lambda: grouped_records(services.db, settings, "team", quarter_start, quarter_end)
        )
        # Since the differencing fix it is a GroupedReport; before, (columns, records).
        records = report.records if hasattr(report, "records") else report[1]
        row(f"report --by team, a quarter ({len(records):,} rows)", *m)
        # `serve` warms the figures up at start: the read on its own, then the first ask.
        warmed = OrgService(services)
        _, *m = measured(lambda: (warmed.warm_up(), warmed.inputs(org_weeks(now))))
        row("org, warm-up at start (the read, in the background)", *m)
        # The scheduled pass (`serve`, every five minutes) after the same people's next usage.
        land_today(services.db, changed, now + timedelta(minutes=5), quarter_end)
        if (ROOT / "storage" / "weekly.py").exists():
            from storage.weekly import fresh_weeks

            _, *m = measured(lambda: fresh_weeks(services.db, first, now.date()))
            row(f"weekly re-sum of what {len(changed):,} people changed", *m)
        print("\n".join(table))
        # The same data on both sides: the report's rows must match main's to the digit.
        digest = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()
        print(f"report digest {digest[:16]}")
        print(
            f"org warm p50 / p99: {statistics.median(warm):.1f} / {percentile(warm, 99):.1f} ms; "
            f"org TEAM, each team's first ask p50 / p99: {statistics.median(team_first):.1f} / "
            f"{percentile(team_first, 99):.1f} ms; asked again (warm): "
            f"{statistics.median(team_warm):.1f} / {percentile(team_warm, 99):.1f} ms"
        )
        services.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

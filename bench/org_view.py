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
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from slash import load  # noqa: E402

from bot.cli.group_report import grouped_records  # noqa: E402
from bot.composition import build_services  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.slack.answers import Viewer  # noqa: E402
from bot.slack.org_service import OrgService, trend_weeks  # noqa: E402
from bot.slack.views.render import render  # noqa: E402
from jobs.weeks import current_week  # noqa: E402
from storage.teams import replace_teams  # noqa: E402


def org_weeks(now: datetime) -> list:  # type: ignore[type-arg]
    return trend_weeks(current_week(now, ZoneInfo("UTC")))


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--teams", type=int, default=40)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=50, help="timed warm answers")
    args = parser.parse_args()
    now = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as workdir:
        settings = load_settings(
            AIUSAGE_DATABASE_URL=f"sqlite:///{workdir}/bench.db", AIUSAGE_ADMINS="UADMIN"
        )
        services = build_services(settings, clock=lambda: now, migrate=True)
        started = time.perf_counter()
        rows = load(services.db, args.people, args.days, now)
        teams: dict[str, list[tuple[str, str]]] = {f"team-{t:03d}": [] for t in range(args.teams)}
        for n in range(args.people):
            teams[f"team-{n % args.teams:03d}"].append(("slack", f"U{n:07d}"))
            if n % 10 == 0:  # a tenth of people are in a second team as well
                teams[f"team-{(n + 1) % args.teams:03d}"].append(("slack", f"U{n:07d}"))
        replace_teams(services.db, "csv", teams, now)
        print(
            f"loaded {args.people:,} people x {args.days} days ({rows:,} rollup rows) in "
            f"{args.teams} teams in {time.perf_counter() - started:.1f}s"
        )
        viewer = Viewer("UADMIN", 0, ZoneInfo("UTC"), False)
        org = OrgService(services)

        def answer(team: str | None) -> float:
            t0 = time.perf_counter()
            render(org.answer(viewer, team))
            return (time.perf_counter() - t0) * 1000

        # `serve` warms the figures up at start: the read on its own, then the first ask.
        warmed = OrgService(services)
        t0 = time.perf_counter()
        warmed.warm_up()
        warmed.inputs(org_weeks(now))  # waits for the warm-up's read
        warm_up_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        render(warmed.answer(viewer, None))
        after_warm_up = (time.perf_counter() - t0) * 1000
        cold = answer(None)
        warm = [answer(None) for _ in range(args.requests)]
        team_cold = answer("team-001")
        team_warm = [answer(f"team-{i % args.teams:03d}") for i in range(args.requests)]
        quarter_end = date(2026, 11, 15)
        t0 = time.perf_counter()
        _, report = grouped_records(
            services.db, settings, "team", quarter_end - timedelta(days=90), quarter_end
        )
        report_s = time.perf_counter() - t0
        print("| measure | ms |\n|---|---:|")
        print(f"| org, cold (first answer, no warm-up) | {cold:.0f} |")
        print(f"| org, warm-up at start (the read, in the background) | {warm_up_s * 1000:.0f} |")
        print(f"| org, first answer once warmed up | {after_warm_up:.1f} |")
        print(
            f"| org, warm p50 / p99 | {statistics.median(warm):.1f} / {percentile(warm, 99):.1f} |"
        )
        print(f"| org TEAM, first team after org | {team_cold:.0f} |")
        print(
            f"| org TEAM, warm p50 / p99 ({args.teams} teams in turn) | "
            f"{statistics.median(team_warm):.1f} / {percentile(team_warm, 99):.1f} |"
        )
        print(f"| report --by team, a quarter ({len(report):,} rows) | {report_s * 1000:.0f} |")
        services.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

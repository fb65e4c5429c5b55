"""Benchmark: compute and render one week's awards for many people from the daily rollup.

    python bench/awards.py                   # quick: 2,000 people
    python bench/awards.py --people 100000   # the target: under 2 s

Seeds a throw-away SQLite file (or --database-url, or --keep FILE to seed once and reuse)
with five weeks of rollup rows, then times reading the week and its history, deciding the
badges, and rendering the post; then, in the same run, the baseline: the reads and decision
as they were before (joined per-person queries on the plain day index, a reason written for
every candidate and everyone sorted), with that index put back for the purpose.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, insert, select, text

from bot.slack.views.award_post import award_blocks, award_text
from jobs.award_rules import MEASURES, AwardRules, Candidate, build_post, decide_awards
from jobs.awards import candidates
from jobs.weeks import Week
from storage.daily_sums import summed_totals, totals_from_row
from storage.db import Database
from storage.models import DailyRow, IdentityRow, PersonRow
from storage.records import Award, PersonPeriod

WEEK = Week(date(2026, 11, 9))
TOOLS = ("claude-code", "copilot", "cursor", "kiro")
KINDS = ("chat", "inline_suggestion", "agent", "completion", "other")


def seed(db: Database, people: int, rng: random.Random) -> int:
    now = datetime(2026, 11, 16, tzinfo=UTC)
    with db.write() as conn:
        conn.execute(
            insert(PersonRow),
            [
                {
                    "id": i,
                    "slack_user_id": f"U{i:07d}",
                    "created_at": now,
                    "is_workspace_admin": False,
                    "opted_out": i % 50 == 0,
                }
                for i in range(1, people + 1)
            ],
        )
        conn.execute(
            insert(IdentityRow),
            [
                {"id": i, "kind": "slack", "value": f"U{i:07d}", "person_id": i, "created_at": now}
                for i in range(1, people + 1)
            ],
        )
    rows = 0
    for back in range(5):
        week = WEEK.previous(back)
        batch = []
        for person in range(1, people + 1):
            for day in rng.sample(week.days(), rng.randint(1, 5)):
                for tool in rng.sample(TOOLS, rng.randint(1, 2)):
                    shown = rng.randint(0, 60)
                    batch.append(
                        {
                            "identity_id": person,
                            "day": day,
                            "tool": tool,
                            "kind": rng.choice(KINDS),
                            "origin": "events",
                            "requests": rng.randint(1, 40),
                            "input_tokens": rng.randint(500, 60_000),
                            "output_tokens": rng.randint(100, 20_000),
                            "suggestions_shown": shown,
                            "suggestions_accepted": rng.randint(0, shown),
                            "lines_accepted": rng.randint(0, 80),
                            "cost_usd": None,
                            "events": rng.randint(1, 40),
                        }
                    )
        with db.write() as conn:
            conn.execute(insert(DailyRow), batch)
        rows += len(batch)
    return rows


def baseline_candidates(db: Database, week: Week, history_weeks: int) -> list[Candidate]:
    """The award job's reads as they were before this change, kept here to measure against."""
    where = [DailyRow.day.between(week.start, week.end)]
    totals_stmt = (
        select(
            PersonRow.id,
            PersonRow.slack_user_id,
            PersonRow.display_name,
            PersonRow.opted_out,
            *summed_totals(),
            func.count(func.distinct(DailyRow.day)),
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .join(PersonRow, PersonRow.id == IdentityRow.person_id)
        .where(*where)
        .group_by(
            PersonRow.id, PersonRow.slack_user_id, PersonRow.display_name, PersonRow.opted_out
        )
        .order_by(PersonRow.id)
    )
    breadth_stmt = (
        select(IdentityRow.person_id, DailyRow.tool, DailyRow.kind)
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(*where, IdentityRow.person_id.is_not(None))
        .distinct()
    )
    earlier = [week.previous(back).start for back in range(1, history_weeks + 1)]
    index = case(
        *[(DailyRow.day.between(s, s + timedelta(days=6)), i) for i, s in enumerate(earlier)],
        else_=-1,
    ).label("week_index")
    history_stmt = (
        select(IdentityRow.person_id, index, func.count(func.distinct(DailyRow.day)))
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(
            DailyRow.day.between(min(earlier), max(earlier) + timedelta(days=6)),
            IdentityRow.person_id.is_not(None),
        )
        .group_by(IdentityRow.person_id, index)
    )
    with db.read() as conn:
        rows = conn.execute(totals_stmt).all()
        tools: dict[int, set[str]] = {}
        kinds: dict[int, set[str]] = {}
        for person_id, tool, kind in conn.execute(breadth_stmt):
            tools.setdefault(person_id, set()).add(tool)
            kinds.setdefault(person_id, set()).add(kind)
        history: dict[int, list[int]] = {}
        for person_id, week_index, days in conn.execute(history_stmt):
            if week_index >= 0:
                history.setdefault(person_id, [0] * len(earlier))[week_index] = int(days)
    none = (0,) * history_weeks
    return [
        Candidate(
            PersonPeriod(
                person_id=row[0],
                slack_user_id=row[1],
                display_name=row[2],
                opted_out=bool(row[3]),
                totals=totals_from_row(row[4:12]),
                active_days=int(row[12]),
                tools=frozenset(tools.get(row[0], ())),
                kinds=frozenset(kinds.get(row[0], ())),
            ),
            tuple(history.get(row[0], none)),
        )
        for row in rows
    ]


def baseline_decide(cands: list[Candidate], rules: AwardRules) -> int:
    """The decision as it was: a reason written for every candidate, everyone sorted."""
    eligible = [c for c in cands if c.period.slack_user_id and not c.period.opted_out]
    for category in rules.categories:
        measure = MEASURES[category.key]
        ranked = []
        for c in eligible:
            if c.period.active_days < category.min_active_days:
                continue
            value = measure.value(c, category, rules.history_weeks)
            if value is None or value <= 0 or value < category.minimum:
                continue
            reason = measure.reason(c, rules.history_weeks)
            order = (-value, -c.period.active_days, c.period.totals.tokens, c.period.slack_user_id)
            ranked.append((order, c, value, reason))
        ranked.sort(key=lambda item: item[0])
    return len(eligible)


def time_baseline(db: Database, rules: AwardRules) -> tuple[float, float]:
    """The baseline's read and decide times, on the day index it had."""
    with db.write() as conn:
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_bench_day ON usage_daily (day)"))
        conn.execute(text("DROP INDEX IF EXISTS ix_usage_daily_day_identity"))
    try:
        t0 = time.perf_counter()
        cands = baseline_candidates(db, WEEK, rules.history_weeks)
        t1 = time.perf_counter()
        baseline_decide(cands, rules)
        t2 = time.perf_counter()
    finally:
        with db.write() as conn:
            conn.execute(
                text(
                    "CREATE INDEX IF NOT EXISTS ix_usage_daily_day_identity "
                    "ON usage_daily (day, identity_id, tool, kind)"
                )
            )
            conn.execute(text("DROP INDEX IF EXISTS ix_bench_day"))
    return t1 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--database-url", help="default: a SQLite file in a temp directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="a SQLite file: seeded once, then reused")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        reuse = args.keep is not None and args.keep.exists()
        path = args.keep or Path(tmp) / "bench.db"
        url = args.database_url or f"sqlite:///{path}"
        db = Database(url, ZoneInfo("UTC"))
        db.upgrade()
        started = time.perf_counter()
        if not reuse:
            rows = seed(db, args.people, random.Random(args.seed))
            print(
                f"seeded {args.people:,} people, {rows:,} rollup rows in "
                f"{time.perf_counter() - started:.1f} s"
            )

        rules = AwardRules()
        t0 = time.perf_counter()
        cands = candidates(db, WEEK, rules.history_weeks)
        t1 = time.perf_counter()
        winners = decide_awards(cands, rules)
        t2 = time.perf_counter()
        awards = [
            Award(w.person_id, w.slack_user_id, WEEK.start, w.category, w.reason, datetime.now(UTC))
            for w in winners
        ]
        post = build_post(WEEK.label, WEEK.start, WEEK.end, awards, rules)
        blocks = [block.to_dict() for block in award_blocks(post)]
        text = award_text(post)
        t3 = time.perf_counter()
        baseline = None if args.no_baseline else time_baseline(db, rules)
        db.dispose()

    print(
        f"read week + {rules.history_weeks} weeks of history: {t1 - t0:6.3f} s "
        f"({len(cands):,} candidates)"
    )
    print(f"decide badges:                     {t2 - t1:6.3f} s ({len(winners)} winners)")
    print(
        f"render blocks and text:            {t3 - t2:6.3f} s ({len(blocks)} blocks, "
        f"{len(text)} chars)"
    )
    print(f"total:                             {t3 - t0:6.3f} s")
    if baseline is not None:
        read, decide = baseline
        print(
            f"baseline (as before): read {read:6.3f} s, decide {decide:6.3f} s, "
            f"total {read + decide:6.3f} s; now {(read + decide) / (t3 - t0):.1f}x faster"
        )


if __name__ == "__main__":
    main()

"""Benchmark: compute and render one week's awards for many people from the daily rollup.

    python -P bench/awards.py                   # quick: 2,000 people
    python -P bench/awards.py --people 100000   # the target: under 2 s
    python -P bench/awards.py --people 100000 --keep /tmp/a100k.db --baseline /tmp/main-src

Seeds a throw-away SQLite file (or --database-url, or --keep FILE: seeded once, then reused)
with five weeks of rollup rows, then times reading the week and its history, deciding the
badges, and rendering the post. With --baseline DIR (a checkout of the code to compare with,
e.g. `git archive main`), the same work is then timed with that code on the same database in
a child process, on the rollup indexes that code has: a same-run baseline on a shared machine.
Wall and CPU time are both printed (CPU: this process and its threads; SQLite runs in them).
Before timing, every marked week is re-summed as the five-minute job would have (on a file
seeded earlier, that is every week, once); --changed N then changes N people's week, so the
timed read sums their week again first.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from bot.slack.views.award_post import award_blocks, award_text
from jobs.award_rules import AwardRules, build_post, decide_awards
from jobs.awards import candidates
from jobs.weeks import Week
from storage.db import Database
from storage.models import DailyRow, IdentityRow, PersonRow
from storage.records import Award
from storage.weekly import fresh_weeks

WEEK = Week(date(2026, 11, 9))
TOOLS = ("claude-code", "copilot", "cursor", "kiro")
KINDS = ("chat", "inline_suggestion", "agent", "completion", "other")


def seed(db: Database, people: int, rng: random.Random, reported: float = 0.0) -> int:
    """Five weeks of rollup rows; a `reported` share of people have theirs from a vendor
    report (origin `import:bench`) rather than pushed events, so the one-source rule has
    cells to look at."""
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
    # Drawn only when asked for, so the default data stays as it was.
    origins = {
        p: "import:bench" for p in range(1, people + 1) if reported and rng.random() < reported
    }
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
                            "origin": origins.get(person, "events"),
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


def change_usage(db: Database, people: int) -> int:
    """One more request on one of the week's rows of each of the first `people` people, as
    late usage landing after the five-minute re-sum: the award job sums their week again
    before it reads. Returns how many people that was."""
    with db.write() as conn:
        return conn.execute(
            text(
                "UPDATE usage_daily SET requests = requests + 1 WHERE id IN ("
                "SELECT min(id) FROM usage_daily WHERE day BETWEEN :first AND :last "
                "AND identity_id <= :people GROUP BY identity_id)"
            ),
            {"first": WEEK.start, "last": WEEK.end, "people": people},
        ).rowcount


# The code measured against (--baseline) reads with the rollup indexes it had: the plain day
# index instead of this code's, put back for the run and undone after.
BASELINE_INDEXES = ("CREATE INDEX IF NOT EXISTS ix_usage_daily_day ON usage_daily (day)",)
OWN_INDEXES = ("ix_usage_daily_day_identity", "ix_usage_daily_reports")

# Run in a child process with the baseline's code first on sys.path: its own award reads and
# decision, timed as the main run times this code's.
BASELINE_SCRIPT = """
import sys, time
from datetime import date
from zoneinfo import ZoneInfo
from jobs.award_rules import AwardRules, decide_awards
from jobs.awards import candidates
from jobs.weeks import Week
from storage.db import Database
from storage.weekly import fresh_weeks
db = Database(sys.argv[1], ZoneInfo("UTC"))
rules = AwardRules()
w0, c0 = time.perf_counter(), time.process_time()
cands = candidates(db, Week(date.fromisoformat(sys.argv[2])), rules.history_weeks)
w1, c1 = time.perf_counter(), time.process_time()
winners = decide_awards(cands, rules)
w2, c2 = time.perf_counter(), time.process_time()
print(w1 - w0, w2 - w1, c2 - c0, len(cands), sorted((w.category, w.person_id) for w in winners))
"""


def time_baseline(db: Database, source: Path) -> tuple[float, float, float, int, str]:
    """The baseline code's read and decide wall times, CPU time, candidates and winners."""
    # SQLite only: on PostgreSQL the baseline reads this code's indexes.
    own = _own_index_sql(db) if db.is_sqlite else {}
    with db.write() as conn:
        for sql in BASELINE_INDEXES if db.is_sqlite else ():
            conn.execute(text(sql))
        for name in own:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    checkpoint(db)
    try:
        env = {**os.environ, "PYTHONPATH": str(source)}
        out = subprocess.run(
            [sys.executable, "-P", "-c", BASELINE_SCRIPT, str(db.url), WEEK.start.isoformat()],
            env=env,
            cwd=source,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split(maxsplit=4)
    finally:
        with db.write() as conn:
            if db.is_sqlite:
                conn.execute(text("DROP INDEX IF EXISTS ix_usage_daily_day"))
            for sql in own.values():
                conn.execute(text(sql))
        checkpoint(db)
    return float(out[0]), float(out[1]), float(out[2]), int(out[3]), out[4].strip()


def _own_index_sql(db: Database) -> dict[str, str]:
    """This code's rollup indexes as SQLite created them (to drop and recreate)."""
    with db.read() as conn:
        rows = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"),
            {"t": "usage_daily"},
        ).all()
    return {name: sql for name, sql in rows if name in OWN_INDEXES}


def checkpoint(db: Database) -> None:
    """Fold the write-ahead log into the database file: an index just built sits in the
    log, and every read would look it up there first (SQLite only)."""
    if db.url.get_backend_name() == "sqlite" and db.url.database:
        with closing(sqlite3.connect(db.url.database)) as conn:  # outside any transaction
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--database-url", help="default: a SQLite file in a temp directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="a SQLite file: seeded once, then reused")
    parser.add_argument("--reported", type=float, default=0.0, help="share from a report")
    parser.add_argument("--baseline", type=Path, help="source tree of the code to compare with")
    parser.add_argument(
        "--changed",
        type=int,
        default=0,
        help="people whose usage of the week lands after the re-sum (re-summed in the timing)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        reuse = args.keep is not None and args.keep.exists()
        path = args.keep or Path(tmp) / "bench.db"
        url = args.database_url or f"sqlite:///{path}"
        db = Database(url, ZoneInfo("UTC"))
        db.upgrade()
        started = time.perf_counter()
        if not reuse:
            rows = seed(db, args.people, random.Random(args.seed), args.reported)
            print(
                f"seeded {args.people:,} people, {rows:,} rollup rows in "
                f"{time.perf_counter() - started:.1f} s"
            )
        # What the five-minute re-sum has done before the job runs: every marked week (on a
        # file seeded before the person-week rows, every week) summed once, untimed.
        summed_at = time.perf_counter()
        if weeks := fresh_weeks(db):
            print(f"weekly re-sum of {weeks} marked weeks: {time.perf_counter() - summed_at:.1f} s")
        if args.changed:
            changed = change_usage(db, args.changed)
            print(f"usage changed since the re-sum for {changed:,} people of the week")
        checkpoint(db)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        rules = AwardRules()
        cpu0 = time.process_time()
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
        cpu = time.process_time() - cpu0
        baseline = None if args.baseline is None else time_baseline(db, args.baseline)
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
    print(f"total:                             {t3 - t0:6.3f} s (CPU {cpu:6.3f} s)")
    if baseline is not None:
        read, decide, base_cpu, base_cands, base_winners = baseline
        mine = str(sorted((w.category, w.person_id) for w in winners))
        print(
            f"baseline ({args.baseline}): read {read:6.3f} s, decide {decide:6.3f} s, "
            f"total {read + decide:6.3f} s (CPU {base_cpu:6.3f} s), {base_cands:,} candidates; "
            f"now {(read + decide) / (t3 - t0):.1f}x faster (CPU {base_cpu / cpu:.1f}x); "
            f"same winners: {base_winners == mine}"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

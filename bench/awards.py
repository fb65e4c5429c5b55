"""Benchmark: compute and render one week's awards for many people from the daily rollup.

    python bench/awards.py                   # quick: 2,000 people
    python bench/awards.py --people 20000    # the target: under 2 s
    python bench/awards.py --people 100000

Seeds a throw-away SQLite file (or --database-url) with five weeks of rollup rows, then times
reading the week and its history, deciding the badges, and rendering the post.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bot.slack.views.award_post import award_blocks, award_text
from jobs.award_rules import AwardRules, build_post, decide_awards
from jobs.awards import candidates
from jobs.weeks import Week
from storage.db import Database
from storage.models import DailyRow, IdentityRow, PersonRow
from storage.records import Award

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--database-url", help="default: a SQLite file in a temp directory")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(url, ZoneInfo("UTC"))
        db.upgrade()
        started = time.perf_counter()
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


if __name__ == "__main__":
    main()

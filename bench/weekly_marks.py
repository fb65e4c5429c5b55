"""What the weekly rollup's stale marks cost ingest: the same batches of events recorded
through `record_events` into two fresh databases, one with the marking triggers of
migration 0130_orgweek and one with them dropped, alternately, batch by batch.

    python bench/weekly_marks.py                  # SQLite and PostgreSQL, 100 batches of 500
    python bench/weekly_marks.py --batches 40 --batch 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import fresh_database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from storage.db import Database  # noqa: E402
from storage.events import record_events  # noqa: E402
from storage.integrations import create_integration  # noqa: E402
from storage.records import UsageEvent, UserRef  # noqa: E402

NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)
TRIGGERS = {"ins": "usage_daily", "upd": "usage_daily", "del": "usage_daily", "link": "identities"}


def drop_triggers(db: Database) -> None:
    with db.write() as conn:
        for name, table in TRIGGERS.items():
            on = "" if db.is_sqlite else f" ON {table}"
            conn.execute(text(f"DROP TRIGGER usage_weekly_{name}{on}"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--kinds", default="sqlite,postgresql")
    args = parser.parse_args()
    print("| database | median batch, marks / none (ms) | CPU total, marks / none (s) |")
    print("|---|---:|---:|")
    for kind in args.kinds.split(","):
        with ExitStack() as stack:
            dbs = {}
            for label in ("marks", "none"):
                workdir = stack.enter_context(tempfile.TemporaryDirectory())
                db = Database(stack.enter_context(fresh_database(kind, workdir)), ZoneInfo("UTC"))
                db.upgrade()
                if label == "none":
                    drop_triggers(db)
                dbs[label] = (db, create_integration(db, "bench", NOW)[0].id)
            walls: dict[str, list[float]] = {label: [] for label in dbs}
            cpu = dict.fromkeys(dbs, 0.0)
            n = 0
            for b in range(args.batches):
                batch = []
                for _ in range(args.batch):
                    # the last three days, as live usage and a look-back's revisions land
                    batch.append(
                        UsageEvent(
                            event_id=f"e{n}",
                            user=UserRef(slack_user_id=f"U{n % args.people:05d}"),
                            occurred_at=NOW - timedelta(minutes=(n * 7) % (3 * 24 * 60)),
                            tool=("cursor", "claude-code")[n % 2],
                            input_tokens=100,
                        )
                    )
                    n += 1
                order = ("marks", "none") if b % 2 else ("none", "marks")
                for label in order:
                    db, integration = dbs[label]
                    wall, cpu0 = time.perf_counter(), time.process_time()
                    record_events(db, integration, batch, NOW)
                    walls[label].append((time.perf_counter() - wall) * 1000)
                    cpu[label] += time.process_time() - cpu0
            for db, _ in dbs.values():
                db.dispose()
        print(
            f"| {kind} | {statistics.median(walls['marks']):.1f} / "
            f"{statistics.median(walls['none']):.1f} | {cpu['marks']:.2f} / {cpu['none']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: re-sum every summed week whole (what a migration that marks them all, such as
0180_workdays, makes the next five-minute re-sum do), on a file `bench/awards.py` seeds.

    python -P bench/weekly_resum.py --keep /tmp/a20k.db --people 20000
    python -P bench/weekly_resum.py --keep /tmp/a20k.db --baseline /tmp/main-src

With --baseline DIR (e.g. `git archive main`), the same re-sums are timed with that code in
a child process, alternately with this code's, on the same file. Prints wall and CPU time
(SQLite runs in the process) of each run.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from awards import seed

from storage.db import Database
from storage.weekly import fresh_weeks

MARK_ALL = (
    "INSERT INTO usage_weekly_stale (day, person_id) "
    "SELECT DISTINCT week, CAST(NULL AS INTEGER) FROM usage_weekly"
)


def resum(path: Path) -> str:
    """Mark every summed week whole and re-sum them all: wall and CPU seconds."""
    db = Database(f"sqlite:///{path}", ZoneInfo("UTC"))
    with db.write() as conn:
        conn.execute(text(MARK_ALL))
    wall, cpu = time.perf_counter(), time.process_time()
    weeks = fresh_weeks(db)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    db.dispose()
    return f"{weeks} weeks: wall {wall:.2f} s, CPU {cpu:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, required=True, help="the SQLite file (seeded once)")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--reported", type=float, default=0.05, help="share from a report")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="source tree of the code to compare with")
    parser.add_argument("--only", action="store_true", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.only:
        print(resum(args.keep))
        return
    if not args.keep.exists():
        db = Database(f"sqlite:///{args.keep}", ZoneInfo("UTC"))
        db.upgrade()
        rows = seed(db, args.people, random.Random(7), args.reported)
        fresh_weeks(db)
        db.dispose()
        print(f"seeded {args.people:,} people, {rows:,} rollup rows")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for _ in range(args.runs):
        print(f"this code: {resum(args.keep)}")
        if args.baseline is not None:
            child = [sys.executable, "-P", __file__, "--keep", str(args.keep), "--only"]
            env = {**os.environ, "PYTHONPATH": str(args.baseline)}
            out = subprocess.run(child, env=env, capture_output=True, text=True, check=True)
            print(f"baseline:  {out.stdout.strip()}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""Report import throughput: rows per second for `aiusage import kiro` of a Kiro per-client
CSV report (100,000 rows by default), first import and re-import, as a real CLI process.

    python bench/import.py                       # 100,000 rows, SQLite
    python bench/import.py --rows 20000 --database both
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from common import AIUSAGE, fresh_database

HEADER = (
    "Date,UserId,Client_Type,Chat_Conversations,Credits_Used,Overage_Cap,Overage_Credits_Used,"
    "Overage_Enabled,ProfileId,Subscription_Tier,Total_Messages,auto_messages,"
    "claude_sonnet_4_5_messages\n"
)
CLIENTS = ("KIRO_IDE", "KIRO_CLI", "PLUGIN")


def write_report(path: Path, rows: int) -> None:
    """`rows` rows over 30 days and three clients, as many users as that takes."""
    users = max(1, rows // (30 * len(CLIENTS)))
    start = date(2026, 10, 1)
    with path.open("w") as out:
        out.write(HEADER)
        for i in range(rows):
            user, rest = divmod(i, 30 * len(CLIENTS))
            day, client = divmod(rest, len(CLIENTS))
            messages = 5 + i % 40
            out.write(
                f"{start + timedelta(days=day)},d-9067c4a1f2.{uuid.UUID(int=user % users)},"
                f"{CLIENTS[client]},{1 + i % 5},{messages * 0.7:.2f},0,0,false,"
                f"arn:aws:codewhisperer:us-east-1:111122223333:profile/AB12,PRO,"
                f"{messages},{messages - 2},2\n"
            )


def timed_import(env: dict[str, str], report: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [AIUSAGE, "import", "kiro", str(report)], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed


def run(kind: str, report: Path, rows: int) -> tuple[float, float]:
    """Rows per second for the first import and for importing the same file again."""
    with tempfile.TemporaryDirectory() as workdir, fresh_database(kind, workdir) as url:
        env = {**os.environ, "AIUSAGE_DATABASE_URL": url}
        subprocess.run([AIUSAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
        first = timed_import(env, report)
        again = timed_import(env, report)
    return rows / first, rows / again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    with tempfile.TemporaryDirectory() as workdir:
        report = Path(workdir) / "KIRO_IDE_111122223333_user_report.csv"
        write_report(report, args.rows)
        size = report.stat().st_size / 1024 / 1024
        print(f"{args.rows} rows ({size:.1f} MiB), {os.cpu_count()} cores; whole CLI process")
        for kind in kinds:
            first, again = run(kind, report, args.rows)
            print(f"{kind:<10} first {first:>9,.0f} rows/s   re-import {again:>9,.0f} rows/s")


if __name__ == "__main__":
    main()

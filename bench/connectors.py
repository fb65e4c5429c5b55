"""Connector backfill: `aiusage connectors sync copilot` of a year of per-user daily reports
for 5,000 people from a fake GitHub (report endpoint, signed links, NDJSON files made on the
fly), as a real CLI process. Prints rows/s, the sync process's CPU time (user + system, which
a shared machine moves far less than wall time) and its peak memory, with that of any
process it starts (Copilot's fetching process) added.

    python bench/connectors.py                          # 5,000 people, 365 days, SQLite
    python bench/connectors.py --days 30 --database postgresql
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson
from common import AIUSAGE, fresh_database

LAST_DAY = date(2026, 11, 30)


def day_file(day: date, people: int) -> bytes:
    """One day's users-1-day NDJSON: every person, with completions, chat and agent work."""
    rng = random.Random(day.toordinal())
    lines = []
    for n in range(people):
        shown = rng.randint(0, 300)
        lines.append(
            orjson.dumps(
                {
                    "day": day.isoformat(),
                    "user_id": n,
                    "user_login": f"dev{n:05d}",
                    "user_initiated_interaction_count": rng.randint(0, 40),
                    "totals_by_feature": [
                        {
                            "feature": "code_completion",
                            "code_generation_activity_count": shown,
                            "code_acceptance_activity_count": shown // 3,
                            "loc_added_sum": shown // 2,
                        },
                        {
                            "feature": "chat_panel_ask_mode",
                            "user_initiated_interaction_count": rng.randint(0, 20),
                        },
                        {
                            "feature": "chat_panel_agent_mode",
                            "user_initiated_interaction_count": rng.randint(0, 10),
                        },
                    ],
                }
            )
        )
    return b"\n".join(lines) + b"\n"


def serve(people: int) -> ThreadingHTTPServer:
    """The fake GitHub. Every day's file is one made-up day with its date swapped in, so the
    fake costs next to nothing and the measurement is of the sync."""
    template_day = date(2000, 1, 1)
    template = day_file(template_day, people)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.startswith("/download/"):
                day = parts.path.split("/")[2].encode()
                body = template.replace(template_day.isoformat().encode(), day)
            elif parts.path.endswith("/users-1-day"):
                day = parse_qs(parts.query)["day"][0]
                port = self.server.server_address[1]
                body = orjson.dumps(
                    {"download_links": [f"http://127.0.0.1:{port}/download/{day}?sig=x"]}
                )
            else:  # user-teams: not part of this measurement
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    server = serve(args.people)
    first = LAST_DAY - timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory() as workdir, fresh_database(args.database, workdir) as url:
        env = {
            **os.environ,
            "AIUSAGE_DATABASE_URL": url,
            "AIUSAGE_COPILOT_TOKEN": "bench",
            "AIUSAGE_COPILOT_ORG": "bench",
            "AIUSAGE_GITHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
        }
        subprocess.run([AIUSAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
        cpu_before = _children_cpu()
        started = time.perf_counter()
        argv = [AIUSAGE, "connectors", "sync", "copilot", "--since", str(first)]
        sync = subprocess.Popen(
            [*argv, "--until", str(LAST_DAY)],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        peaks = PeakWatch(sync.pid)
        out, err = sync.communicate()
        elapsed = time.perf_counter() - started
        cpu = _children_cpu() - cpu_before  # the sync's and its own children's
        peaks.stop()
        if sync.returncode != 0:
            sys.exit(f"sync failed: {err}")
        # The sync's own peak, exactly (the largest of this process's children); its children
        # (a fetching process) from their /proc peaks, read until they end.
        sync_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        children_mb = sum(kib for pid, kib in peaks.peaks.items() if pid != sync.pid) / 1024
        rows = args.people * args.days
        print(out.strip())
        print(
            f"{args.database}: {rows:,} rows ({args.people:,} people x {args.days} days) in "
            f"{elapsed:.1f} s = {rows / elapsed:,.0f} rows/s; sync CPU {cpu:.1f} s "
            f"({rows / cpu:,.0f} rows per CPU second); peak RSS: sync {sync_mb:.0f} MB + its "
            f"children {children_mb:.0f} MB = {sync_mb + children_mb:.0f} MB; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
    server.shutdown()


class PeakWatch:
    """The peak resident memory (VmHWM) of a process and every process under it, read from
    /proc every few milliseconds until stopped; a peak only grows, so the last reading
    before a process ends is its peak up to those few milliseconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}  # pid: KiB
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _watch(self) -> None:
        own = _cmdline(self.pid)
        while not self._stopping.wait(0.005):
            pending = [self.pid]
            while pending:
                pid = pending.pop()
                # A child not yet past exec is still the parent's memory (vfork shares it):
                # read as the child's own, the parent would be counted twice.
                hwm = None if pid != self.pid and _cmdline(pid) == own else _vm_hwm(pid)
                if hwm is not None:
                    self.peaks[pid] = max(hwm, self.peaks.get(pid, 0))
                pending += _children_of(pid)


def _cmdline(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return None


def _vm_hwm(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _children_of(pid: int) -> list[int]:
    try:
        names = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for task in names:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found += [int(n) for n in children.read().split()]
        except OSError:
            pass
    return found


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()

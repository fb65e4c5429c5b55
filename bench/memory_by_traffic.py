"""Server memory by kind of traffic: one `aiusage serve` replica on PostgreSQL under the
soak's traffic (`bench/soak.py`), only the kinds named, no SIGKILL, resident memory and its
high-water mark every 10 s. Each kind alone and all together tell which grows memory.

    python bench/memory_by_traffic.py                         # api,slack,otlp for 150 s
    python bench/memory_by_traffic.py --kinds slack --seconds 90
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.modules.setdefault("org", None)  # type: ignore[arg-type]  # see bench/ingest.py

import soak  # noqa: E402
from common import fresh_database  # noqa: E402

from bot.demo.fake_slack import FakeSlack  # noqa: E402


def memory(pid: int) -> str:
    status = {
        line.split(":")[0]: int(line.split()[1]) // 1024
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith(("VmRSS", "VmHWM"))
    }
    threads = len(os.listdir(f"/proc/{pid}/task"))
    return f"RSS {status['VmRSS']} MB, peak {status['VmHWM']} MB, {threads} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="api,slack,otlp", help="of api, slack, otlp")
    parser.add_argument("--seconds", type=float, default=150)
    args = parser.parse_args()
    kinds = set(args.kinds.split(","))

    workdir = Path(tempfile.mkdtemp(prefix="aiusage-memory-"))
    fake = FakeSlack().start()
    for user in soak.USERS:
        fake.add_user(user, email=f"{user.lower()}@example.com", tz="UTC")
    with fresh_database("postgresql", str(workdir)) as url:
        env, api_key, otlp_key = soak.prepare(url, fake)
        replica = soak.Replica(0, env, workdir)
        replica.start()
        assert replica.process is not None
        pid = replica.process.pid
        print(f"start: {memory(pid)}", flush=True)
        traffic = soak.Soak([replica], api_key, otlp_key, fake)
        threads = []
        if "api" in kinds:
            threads += [threading.Thread(target=traffic.api, args=(w,)) for w in range(2)]
        if "slack" in kinds:
            threads += [threading.Thread(target=traffic.slack, args=(w,)) for w in range(2)]
        if "otlp" in kinds:
            threads.append(threading.Thread(target=traffic.otlp))
        for thread in threads:
            thread.start()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < args.seconds:
            time.sleep(10)
            print(f"{elapsed + 10:5.0f} s: {memory(pid)}; {dict(traffic.counts)}", flush=True)
        traffic.stop.set()
        for thread in threads:
            thread.join()
        print(f"end: {memory(pid)}; errors {dict(traffic.errors) or 'none'}")
        replica.stop()
    fake.stop()


if __name__ == "__main__":
    main()

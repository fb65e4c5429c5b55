"""In-process cost of one `/aiusage me` and `top` answer, next to a bare Bolt acknowledgement.

Dispatches signed slash commands straight into the Bolt app (what `POST /slack/events` hands
its worker thread), without HTTP, on a database `bench/slash.py --keep FILE` loaded, and
prints the wall time per dispatch and the process CPU time per dispatch (every thread,
so work Bolt leaves for after the ack counts too). `--profile me|top` prints cProfile's
top entries for that command instead, by cumulative time (`SORT=tottime` for own time).

    python -P bench/answer_cost.py --keep FILE [--calls 3000] [--profile me] [--bare-first]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Appended, not prepended: PYTHONPATH (e.g. an export of main) decides which code runs.
sys.path.append(str(ROOT))

from bot.composition import build_services, create_bolt_app  # noqa: E402
from bot.demo.fake_slack import FakeSlack  # noqa: E402
from bot.demo.signed_requests import signed_headers, slash_command  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from bot.slack.request import SlackRequest  # noqa: E402
from storage.profiles import save_slack_profile  # noqa: E402

SECRET = "bench-signing-secret"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, required=True, help="a file bench/slash.py loaded")
    parser.add_argument("--people", type=int, default=100_000, help="people in that file")
    parser.add_argument("--users", type=int, default=1000, help="distinct callers")
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per command")
    parser.add_argument("--profile", choices=("bare", "me", "top"))
    parser.add_argument(
        "--bare-first", action="store_true", help="the baseline tried before the app's listeners"
    )
    args = parser.parse_args()

    fake = FakeSlack().start()
    os.environ.update(
        {
            "AIUSAGE_DATABASE_URL": f"sqlite:///{args.keep}",
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
        }
    )
    services = build_services(load_settings(), migrate=False)
    now = datetime.now(UTC)
    rng = random.Random(2)
    callers = [f"U{rng.randrange(args.people):07d}" for _ in range(args.users)]
    for caller in callers:
        save_slack_profile(
            services.db, caller, display_name=caller, tz="UTC", is_workspace_admin=False, now=now
        )
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=8)
    bolt = create_bolt_app(services, executor)
    assert bolt is not None
    bolt.command("/bare")(lambda ack: ack())
    if args.bare_first:  # as `bench/slash.py --bare-first` does, for the strict baseline
        listeners = bolt._listeners
        listeners.insert(0, listeners.pop())

    def request(command: str, text: str, user: str) -> SlackRequest:
        body = slash_command(text, user_id=user, command=command, response_url=fake.response_url())
        headers = {k.lower(): [v] for k, v in signed_headers(body, secret=SECRET).items()}
        return SlackRequest(body=body, headers=headers)

    commands = {"bare": ("/bare", ""), "me": ("/aiusage", "me"), "top": ("/aiusage", "top")}
    for name, (command, text) in commands.items():  # warm-up: the ranking, caches, imports
        for caller in callers[:50]:
            assert bolt.dispatch(request(command, text, caller)).status == 200, name
    # The first `top`s are answered after their acks while the week is summed: measure the
    # ones answered in it.
    while not bolt.dispatch(request("/aiusage", "top", callers[0])).body:
        time.sleep(0.05)
    time.sleep(0.5)
    gc.collect()
    gc.freeze()  # as `serve` does after start-up

    if args.profile:
        command, text = commands[args.profile]
        requests = [request(command, text, callers[i % len(callers)]) for i in range(args.calls)]
        profiler = cProfile.Profile()
        profiler.enable()
        for r in requests:
            bolt.dispatch(r)
        time.sleep(0.2)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(45)
        return 0

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'command':<8} {'wall p50 us':>12} {'wall p99 us':>12} {'cpu/call us':>12}")
    for name, (command, text) in commands.items():
        requests = [request(command, text, callers[i % len(callers)]) for i in range(args.calls)]
        walls = []
        cpu0 = time.process_time()
        for r in requests:
            t0 = time.perf_counter()
            bolt.dispatch(r)
            walls.append(time.perf_counter() - t0)
        time.sleep(0.05)  # let work left for after the ack finish, to count its CPU
        cpu = (time.process_time() - cpu0) / args.calls
        us = sorted(w * 1e6 for w in walls)
        p99 = us[round(0.99 * (len(us) - 1))]
        print(f"{name:<8} {statistics.median(us):>12.0f} {p99:>12.0f} {cpu * 1e6:>12.0f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    executor.shutdown()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

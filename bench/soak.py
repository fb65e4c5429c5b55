"""Soak: several `aiusage serve` replicas on one PostgreSQL under mixed traffic, one of them
killed with SIGKILL and restarted halfway through.

Traffic: ingestion API batches (each resent, to another replica, until one answers 200),
OTLP metric exports, signed `/aiusage me|top` slash commands, button clicks, and the weekly
award post falling due every minute (`AIUSAGE_AWARD_SCHEDULE="* * * * *"`) on every replica.
Slack is the local fake Web API. Reports: events acknowledged vs stored (must be equal), award
posts per week and channel (must be one), slash p99 per replica, errors by kind, peak RSS per
replica.

    python bench/soak.py                     # 3 replicas, 2 minutes
    python bench/soak.py --minutes 10        # the issue's length
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402
from common import AIUSAGE, create_integration, free_port, fresh_database  # noqa: E402

from bot.demo.fake_slack import FakeSlack  # noqa: E402
from bot.demo.signed_requests import block_actions, signed_headers, slash_command  # noqa: E402
from bot.slack.views.admin import CONFIRM_ACTION  # noqa: E402

SECRET = "soak-signing-secret"
USERS = [f"USOAK{i:03d}" for i in range(40)]


class Replica:
    def __init__(self, index: int, env: dict[str, str], workdir: Path) -> None:
        self.index, self.env, self.port = index, env, free_port()
        self.log = workdir / f"replica-{index}.log"
        self.peak_rss_kb = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [AIUSAGE, "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if request(self.port, "GET", "/readyz")[0] == 200:
                return
            time.sleep(0.1)
        raise SystemExit(f"replica {self.index} did not become ready")

    def sample_rss(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))

    def kill(self) -> None:
        assert self.process is not None
        self.sample_rss()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        assert self.process is not None
        self.sample_rss()
        self.process.terminate()
        return self.process.wait(timeout=60)


def request(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """One request on a fresh connection; status 0 with the error's name when it failed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    except OSError as exc:
        return 0, type(exc).__name__.encode()
    finally:
        conn.close()


class Soak:
    def __init__(self, replicas: list[Replica], api_key: str, otlp_key: str, fake: FakeSlack):
        self.replicas, self.api_key, self.otlp_key, self.fake = replicas, api_key, otlp_key, fake
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: set[str] = set()
        self.errors: collections.Counter[str] = collections.Counter()
        self.slash: dict[int, list[float]] = collections.defaultdict(list)
        self.counts: collections.Counter[str] = collections.Counter()

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1

    def api(self, worker: int) -> None:
        rng, batch_no = random.Random(worker), 0
        while not self.stop.is_set():
            ids = [f"w{worker}-b{batch_no}-{i}" for i in range(100)]
            # Every tenth batch is last week's suggestions, over its weekdays, so the award
            # post falling due has winners to name.
            last_week = batch_no % 10 == 0
            now = datetime.now(UTC)
            monday = (now - timedelta(days=now.weekday() + 7)).replace(hour=9)
            at = monday + timedelta(days=batch_no // 10 % 5, minutes=rng.randint(0, 480))
            extra = {"suggestions_shown": 20, "suggestions_accepted": 9} if last_week else {}
            body = json.dumps(
                {
                    "events": [
                        {
                            "event_id": event_id,
                            "user": {"slack_user_id": rng.choice(USERS)},
                            "occurred_at": (at if last_week else now).isoformat(),
                            "tool": "copilot" if last_week else "claude-code",
                            "kind": "inline_suggestion" if last_week else "agent",
                            "input_tokens": rng.randint(0, 5000),
                            "output_tokens": rng.randint(0, 900),
                            **extra,
                        }
                        for event_id in ids
                    ]
                }
            ).encode()
            headers = {
                "Authorization": f"Bearer {self.api_key}",
                "Content-Type": "application/json",
            }
            # Resent until some replica answers 200: an event is acknowledged only then.
            for attempt in range(50):
                replica = self.replicas[(worker + batch_no + attempt) % len(self.replicas)]
                status, answer = request(replica.port, "POST", "/api/v1/events", body, headers)
                if status == 200:
                    result = json.loads(answer)
                    with self.lock:
                        self.acknowledged.update(ids)
                        self.counts["api batches"] += 1
                        self.counts["api resends"] += attempt
                        if result["rejected"]:
                            self.errors["api rejected items"] += len(result["rejected"])
                    break
                self.error(f"api {status or answer.decode()}")
                time.sleep(0.2)
            batch_no += 1

    def otlp(self) -> None:
        start_ns, total = time.time_ns(), 0.0
        while not self.stop.is_set():
            total += 1000
            now_ns = time.time_ns()
            points = [
                {
                    "attributes": [
                        {"key": "user.email", "value": {"stringValue": f"{u.lower()}@example.com"}},
                        {"key": "type", "value": {"stringValue": "input"}},
                        {"key": "model", "value": {"stringValue": "claude-sonnet-4-5"}},
                    ],
                    "startTimeUnixNano": str(start_ns),
                    "timeUnixNano": str(now_ns),
                    "asDouble": total,
                }
                for u in USERS[:10]
            ]
            body = json.dumps(
                {
                    "resourceMetrics": [
                        {
                            "resource": {
                                "attributes": [
                                    {"key": "service.name", "value": {"stringValue": "claude-code"}}
                                ]
                            },
                            "scopeMetrics": [
                                {
                                    "metrics": [
                                        {
                                            "name": "claude_code.token.usage",
                                            "unit": "tokens",
                                            "sum": {
                                                "aggregationTemporality": 2,
                                                "isMonotonic": True,
                                                "dataPoints": points,
                                            },
                                        }
                                    ]
                                }
                            ],
                        }
                    ]
                }
            ).encode()
            replica = random.choice(self.replicas)
            headers = {
                "Authorization": f"Bearer {self.otlp_key}",
                "Content-Type": "application/json",
            }
            status, _ = request(replica.port, "POST", "/v1/metrics", body, headers)
            if status == 200:
                with self.lock:
                    self.counts["otlp exports"] += 1
            else:
                self.error(f"otlp {status}")
            self.stop.wait(0.5)

    def slack(self, worker: int) -> None:
        rng, n = random.Random(100 + worker), 0
        while not self.stop.is_set():
            replica = self.replicas[n % len(self.replicas)]
            n += 1
            user = rng.choice(USERS[:20])
            if n % 5 == 0:
                body = block_actions(
                    CONFIRM_ACTION, "999", user_id=user, response_url=self.fake.response_url("c")
                )
                kind = "click"
            else:
                text = rng.choice(["me", "top"])
                body = slash_command(text, user_id=user, response_url=self.fake.response_url("s"))
                kind = "slash"
            started = time.perf_counter()
            status, _ = request(
                replica.port,
                "POST",
                "/slack/events",
                body.encode(),
                signed_headers(body, secret=SECRET),
            )
            took = time.perf_counter() - started
            if status == 200:
                with self.lock:
                    self.counts[kind] += 1
                    if kind == "slash":
                        self.slash[replica.index].append(took)
            else:
                self.error(f"{kind} {status}")
            self.stop.wait(0.05)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def prepare(url: str, fake: FakeSlack) -> tuple[dict[str, str], str, str]:
    """The replicas' environment on a migrated database at `url`, and the API and OTLP keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIUSAGE_", "SLACK_"))}
    env.update(
        AIUSAGE_DATABASE_URL=url,
        SLACK_API_URL=fake.api_url,
        SLACK_BOT_TOKEN="xoxb-soak",
        SLACK_SIGNING_SECRET=SECRET,
        AIUSAGE_AWARD_CHANNELS="CAWARDS",
        AIUSAGE_AWARD_SCHEDULE="* * * * *",
        AIUSAGE_LOG_FORMAT="json",
        AIUSAGE_DRAIN_SECONDS="1",
    )
    subprocess.run([AIUSAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
    return env, create_integration(env, "soak-api"), create_integration(env, "claude-code")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--slack-workers", type=int, default=2)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="aiusage-soak-"))
    fake = FakeSlack().start()
    for user in USERS:
        fake.add_user(user, email=f"{user.lower()}@example.com", tz="UTC")
    with fresh_database("postgresql", str(workdir)) as url:
        env, api_key, otlp_key = prepare(url, fake)
        replicas = [Replica(i, env, workdir) for i in range(args.replicas)]
        for replica in replicas:
            replica.start()
        soak = Soak(replicas, api_key, otlp_key, fake)
        threads = [threading.Thread(target=soak.api, args=(w,)) for w in range(args.api_workers)]
        threads += [
            threading.Thread(target=soak.slack, args=(w,)) for w in range(args.slack_workers)
        ]
        threads.append(threading.Thread(target=soak.otlp))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        duration = args.minutes * 60
        victim, killed = replicas[0], False
        while (elapsed := time.monotonic() - started) < duration:
            for replica in replicas:
                replica.sample_rss()
            if not killed and elapsed >= duration / 2:
                victim.kill()
                killed = True
                print(f"{elapsed:5.0f} s: replica 0 killed with SIGKILL", flush=True)
                time.sleep(3)
                victim.start()
                print(f"{time.monotonic() - started:5.0f} s: replica 0 ready again", flush=True)
            time.sleep(1)
        soak.stop.set()
        for thread in threads:
            thread.join()
        exit_codes = [replica.stop() for replica in replicas]
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            stored = conn.execute(
                "SELECT count(*) FROM usage_events e JOIN integrations i"
                " ON i.id = e.integration_id WHERE i.name = 'soak-api'"
            ).fetchone()[0]
            job_runs = conn.execute(
                "SELECT job, count(*), count(DISTINCT holder) FROM job_runs GROUP BY job"
            ).fetchall()
    fake.stop()

    posts = collections.Counter(
        (
            call.params.get("channel"),
            (call.params.get("metadata") or {}).get("event_payload", {}).get("post_key"),
        )
        for call in fake.calls_to("chat.postMessage")
    )
    print(f"\n{args.replicas} replicas, {args.minutes:g} min, workdir {workdir}")
    print(
        f"events acknowledged {len(soak.acknowledged)}, stored {stored}:",
        "EQUAL" if stored == len(soak.acknowledged) else "DIFFERENT",
    )
    print(
        "award posts per (channel, post):",
        dict(posts) or "none",
        "- each exactly one" if posts and set(posts.values()) == {1} else "",
    )
    print("job runs (job, due times, holders):", job_runs)
    print("traffic:", dict(soak.counts))
    for replica in replicas:
        samples = soak.slash[replica.index]
        print(
            f"replica {replica.index}: slash p50 {percentile(samples, 50) * 1000:.0f} ms, "
            f"p99 {percentile(samples, 99) * 1000:.0f} ms over {len(samples)}; "
            f"peak RSS {replica.peak_rss_kb / 1024:.0f} MB"
        )
    print("errors by kind:", dict(soak.errors) or "none")
    print("exit codes after SIGTERM:", exit_codes)
    tracebacks = sum(r.log.read_text().count("Traceback") for r in replicas)
    print("tracebacks in replica logs:", tracebacks)
    ok = stored == len(soak.acknowledged) and posts and set(posts.values()) == {1}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

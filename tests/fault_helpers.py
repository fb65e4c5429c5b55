"""Real `aiusage` processes for the fault-injection suite: started with short lease and
delay settings, killed with SIGKILL, restarted; and small waits on what they did."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bot.demo.fake_slack import FakeSlack
from tests.slack_requests import SIGNING_SECRET

AIUSAGE = str(Path(sys.executable).with_name("aiusage"))

# Short enough for a suite that runs in seconds; the same shape as production (a check
# delay longer than the fake's history lag, a lease four heartbeats long).
FAST_POSTING = {
    "AIUSAGE_POST_LEASE_SECONDS": "1.2",
    "AIUSAGE_POST_CHECK_DELAY_SECONDS": "0.9",
    "AIUSAGE_POST_REDRIVE_SECONDS": "0.3",
    "AIUSAGE_SLACK_TIMEOUT_SECONDS": "0.5",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class Aiusage:
    """Runs `aiusage` commands as separate processes with one environment, logging each
    process's output to its own file under `logs`."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AIUSAGE_", "SLACK_"))}
        self.env = {**base, **FAST_POSTING, **env}
        self.logs = logs
        self.count = 0
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        self.count += 1
        log = (self.logs / f"{self.count:02d}-{args[0]}.log").open("wb")
        process = subprocess.Popen(
            [AIUSAGE, *args], env=self.env, cwd=self.logs, stdout=log, stderr=subprocess.STDOUT
        )
        self.running.append(process)
        return process

    def run(self, *args: str, timeout: float = 30) -> tuple[int, str]:
        process = self.start(*args)
        code = process.wait(timeout)
        return code, self.output(self.count)

    def output(self, number: int) -> str:
        [path] = self.logs.glob(f"{number:02d}-*.log")
        return path.read_text()

    def serve(self) -> tuple[subprocess.Popen[bytes], str]:
        """`aiusage serve` on a free port, once it answers /healthz; with its base URL."""
        port = free_port()
        process = self.start("serve", "--port", str(port))
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert process.poll() is None, self.output(self.count)
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until("serve to answer /healthz", healthy, timeout=60)
        return process, base

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL: no clean-up, no finally blocks, no flush; as a crash or an OOM kill."""
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def killed_while_slack_holds(
    fake: FakeSlack,
    procs: Aiusage,
    method: str,
    command: tuple[str, ...],
    let_through: Callable[[dict[str, Any]], bool] = lambda _params: False,
    wait: float = 30.0,
) -> None:
    """Runs `aiusage *command` and SIGKILLs it while the fake Slack holds its first call to
    `method` that `let_through` does not pass; the held call is dropped unanswered."""
    holding, killed = threading.Event(), threading.Event()

    def hold(params: dict[str, Any]) -> bool:
        if let_through(params):
            return True
        holding.set()
        killed.wait(30)
        return False

    fake.before(method, hold)
    process = procs.start(*command)
    try:
        assert holding.wait(wait), procs.output(procs.count)
        procs.kill(process)
    finally:
        killed.set()


def held_call_runner(database_url: str, slack_api_url: str, logs: Path, token: str) -> Aiusage:
    """Operator commands as processes against the fake Slack, whose calls the test holds
    longer than a test lasts: the kill, not a timeout, ends the wait."""
    return Aiusage(
        {
            "AIUSAGE_DATABASE_URL": database_url,
            "SLACK_API_URL": slack_api_url,
            "SLACK_BOT_TOKEN": token,
            "AIUSAGE_SLACK_TIMEOUT_SECONDS": "30",
        },
        logs,
    )


def slack_serving(database_url: str, slack_api_url: str, logs: Path, token: str) -> Aiusage:
    """`aiusage serve` processes answering signed Slack requests and asking the fake Slack,
    weeks in UTC."""
    return Aiusage(
        {
            "AIUSAGE_DATABASE_URL": database_url,
            "SLACK_API_URL": slack_api_url,
            "SLACK_BOT_TOKEN": token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "AIUSAGE_TIMEZONE": "UTC",
        },
        logs,
    )


def replies_to(fake: FakeSlack, name: str) -> list[dict[str, Any]]:
    """What was sent to the fake `response_url` named `name`, in order."""
    path = f"/response/{name}"
    return [call.params for call in fake.calls_to("response_url") if call.path == path]


def open_for_writing(fifo: Path, process: Any) -> int | None:
    """The FIFO's write end once the reader has it open (the open would block till then)."""
    assert process.poll() is None, "the import ended before reading its file"
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no reader yet
            return None
        raise
    os.set_blocking(fd, True)
    return fd

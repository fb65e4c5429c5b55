"""`aiusage serve` against clients that hold connections without sending requests: idle ones,
slow heads, bodies trickled after the answer, and more connections than the process has
files for. A real process on a free port, its file limit lowered to keep the flood small."""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.connection_guard import HEAD_TIMEOUT_S, LINGER_S, connection_cap
from tests.fault_helpers import AIUSAGE, free_port, wait_until

# Long enough for a loaded machine to run a timer late; far short of "never".
SLACK_S = 3.0


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serve(database_url: str, tmp_path: Path, *, files: int | None = None) -> Iterator[Served]:
    """`aiusage serve` on a free port, with a soft limit of `files` open files if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIUSAGE_", "SLACK_"))}
    env["AIUSAGE_DATABASE_URL"] = database_url
    env["AIUSAGE_DRAIN_SECONDS"] = "0"  # stopped at once: nothing here to drain

    def limit_files() -> None:
        if files is not None:
            _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, hard))

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [AIUSAGE, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_files,
        )
    served = Served(process, port, log)
    try:

        def healthy() -> bool:
            assert process.poll() is None, served.output()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success
            except httpx.TransportError:
                return False

        wait_until("serve to answer /healthz", healthy, timeout=60)
        yield served
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, served.output()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


class Client:
    """One raw connection to `serve`, and what came back on it."""

    def __init__(self, served: Served) -> None:
        self.sock = served.connect()
        self.sock.settimeout(None)  # blocking, so that MSG_DONTWAIT is not waited on
        self.received = b""
        self.closed = False

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:  # the server closed it, and said so with a reset
            self.closed = True

    def ended(self) -> bool:
        """Whether the server has closed the connection, reading what it sent."""
        try:
            while chunk := self.sock.recv(4096, socket.MSG_DONTWAIT):
                self.received += chunk
            self.closed = True
        except BlockingIOError:
            pass
        except ConnectionResetError:
            self.closed = True
        return self.closed

    def answer(self) -> bytes:
        """The next whole answer (head and body), waiting for it."""
        self.sock.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
        while len(body) < length:
            body += self.sock.recv(4096)
        self.sock.settimeout(None)
        return head + b"\r\n\r\n" + body


def test_connections_holding_no_whole_request_are_closed_in_seconds(database_url, tmp_path):
    with serve(database_url, tmp_path) as served:
        idle = Client(served)  # sends nothing at all
        slow_head = Client(served)  # a slowloris: a head a byte at a time
        slow_head.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ")
        second_head = Client(served)  # the same, on a kept-alive connection's next request
        second_head.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert second_head.answer().startswith(b"HTTP/1.1 200")
        second_head.send(b"GET /healthz HTTP/1.1\r\nX-Pad: ")
        # A path that takes no body is answered at once; the declared body then trickles.
        slow_body = Client(served)
        slow_body.send(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        assert slow_body.answer().startswith(b"HTTP/1.1 405")
        trickling = {"slow head": slow_head, "second head": second_head, "slow body": slow_body}
        held = {"idle": idle, **trickling}
        opened = time.monotonic()
        closed_after: dict[str, float] = {}
        while len(closed_after) < len(held) and time.monotonic() - opened < 2 * HEAD_TIMEOUT_S + 5:
            for name, client in held.items():
                if name in trickling and not client.closed:
                    client.send(b"a")  # every byte restarted uvicorn's keep-alive timer
                if name not in closed_after and client.ended():
                    closed_after[name] = time.monotonic() - opened
            time.sleep(0.25)
        # Meanwhile the server answers as usual.
        assert httpx.get(f"http://127.0.0.1:{served.port}/healthz", timeout=5).status_code == 200
        assert set(closed_after) == set(held), f"still open: {set(held) - set(closed_after)}"
        for name, after in closed_after.items():
            assert after < max(HEAD_TIMEOUT_S, LINGER_S) + SLACK_S, (name, after)
        # Whoever began a head is told why, unless its next byte met the close first.
        assert slow_head.received == b"" or slow_head.received.startswith(b"HTTP/1.1 408")
        for client in held.values():
            client.sock.close()
        # A body sent whole after an early answer keeps its connection for the next request.
        reused = Client(served)
        reused.send(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        assert reused.answer().startswith(b"HTTP/1.1 405")
        reused.send(b"hello" + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reused.answer().startswith(b"HTTP/1.1 200")
        reused.sock.close()
    log = served.output()
    assert f"sent no whole request head within {HEAD_TIMEOUT_S:g} s" in log, log
    assert f"still sending a request body {LINGER_S:g} s after it was answered" in log, log


def test_connections_past_the_cap_are_refused_leaving_files_for_the_rest(database_url, tmp_path):
    files = 120
    cap = connection_cap(files)
    assert cap < files - 32  # room for the database, the logs and the listening socket
    with serve(database_url, tmp_path, files=files) as served:
        flood = [Client(served) for _ in range(cap + 50)]
        # Past the cap, each is told 503 and closed at once: the process's files stay free.
        wait_until(
            "the connections past the cap to be refused",
            lambda: sum(client.ended() for client in flood) >= 50,
            timeout=10,
        )
        assert served.open_files() <= files - 32
        time.sleep(0.5)
        refused = [client for client in flood if client.ended()]
        assert len(refused) == 50
        assert all(client.received.startswith(b"HTTP/1.1 503") for client in refused)
        # Once the held ones are cut for sending nothing, everyone is served again.
        wait_until(
            "the held connections to be cut",
            lambda: all(client.ended() for client in flood),
            timeout=HEAD_TIMEOUT_S + SLACK_S,
        )
        assert httpx.get(f"http://127.0.0.1:{served.port}/healthz", timeout=5).status_code == 200
        for client in flood:
            client.sock.close()
    log = served.output()
    assert f"{cap} open already, the most this process takes with its file limit of {files}" in log
    assert f"taking at most {cap} connections at once (file limit {files})" in log

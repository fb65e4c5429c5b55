"""`aiusage serve` against clients that hold connections without sending requests: idle ones,
slow heads, bodies trickled after the answer, heads and trailers too large to keep, and more
connections than the process has files for. A real process on a free port, its file limit
lowered to keep the flood small."""

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
import pytest

from bot.connection_guard import HEAD_LIMIT, HEAD_TIMEOUT_S, LINGER_S, connection_cap
from tests.fault_helpers import AIUSAGE, free_port, wait_until

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

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
        # After an answer, blank lines: httptools skips them, so no next head ever begins,
        # while each byte stopped uvicorn's keep-alive timer.
        blank_lines = Client(served)
        blank_lines.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert blank_lines.answer().startswith(b"HTTP/1.1 200")
        # A body sent whole after an early answer, then silence: its bytes stopped the
        # keep-alive timer too, and nothing started it again.
        drained = Client(served)
        drained.send(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        assert drained.answer().startswith(b"HTTP/1.1 405")
        drained.send(b"hello")
        trickling = {
            "slow head": slow_head,
            "second head": second_head,
            "slow body": slow_body,
            "blank lines": blank_lines,
        }
        held = {"idle": idle, "drained": drained, **trickling}
        opened = time.monotonic()
        closed_after: dict[str, float] = {}
        while len(closed_after) < len(held) and time.monotonic() - opened < 2 * HEAD_TIMEOUT_S + 5:
            for name, client in held.items():
                if name in trickling and not client.closed:
                    # Every byte restarted uvicorn's keep-alive timer.
                    client.send(b"\r\n" if client is blank_lines else b"a")
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
        assert not blank_lines.received  # it began none
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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The guard works below the app, whichever the database: these run on SQLite alone."""
    return f"sqlite:///{tmp_path / 'aiusage.db'}"


def header_lines(size: int) -> bytes:
    """`size` bytes (a multiple of 1 KiB) of header lines, 1 KiB each."""
    return (b"X-Pad: " + b"a" * 1015 + b"\r\n") * (size // 1024)


def test_request_heads_and_trailers_past_the_limit_are_refused_with_431(sqlite_url, tmp_path):
    """httptools keeps a head whole in memory, and uvicorn each chunked trailer, with no limit:
    one client sent 800 MB of headers, another 2.6 GB of trailers (neither head, which is
    timed, nor body, which is limited), and the process grew to match. Past HEAD_LIMIT the
    request is answered 431 and its connection closed; under it, served as ever."""
    # /slack/events reads the whole body, trailers and all, before it checks the signature.
    (tmp_path / ".env").write_text("SLACK_SIGNING_SECRET=test-secret\nSLACK_BOT_TOKEN=xoxb-1-x\n")
    get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    post = (
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n5\r\na=b&c\r\n0\r\n"
    )
    with serve(sqlite_url, tmp_path) as served:
        fits = Client(served)
        fits.send(get + header_lines(HEAD_LIMIT - 1024) + b"\r\n")
        assert fits.answer().startswith(b"HTTP/1.1 200")
        fits.send(post + b"X-Trailer: 1\r\n\r\n")
        assert fits.answer().startswith(b"HTTP/1.1 401")
        # Each is refused when the line that takes it past the limit ends, which is when the
        # next begins: nothing more is sent, so the answer is read rather than reset.
        too_large = {
            "head": get + header_lines(HEAD_LIMIT),
            "trailers": post + header_lines(HEAD_LIMIT),
        }
        for name, data in too_large.items():
            client = Client(served)
            client.send(data + b"X")
            assert client.answer().startswith(b"HTTP/1.1 431"), name
            wait_until(f"the connection sending a large {name} to close", client.ended)
            client.sock.close()
        # One header line that never ends: httptools holds it whole until the next begins.
        # The server stops reading it past HEAD_LIMIT and one read; the kernel's buffers take
        # megabytes more before the reset reaches this side.
        endless = Client(served)
        endless.send(get + b"X-Pad: ")
        sent = 0
        while sent < 1024 * HEAD_LIMIT and not endless.ended():
            endless.send(b"a" * 16384)
            sent += 16384
        assert endless.ended(), f"a header line of {sent} bytes is still being taken"
        assert endless.received == b"" or endless.received.startswith(b"HTTP/1.1 431")
        endless.sock.close()
        fits.sock.close()
    log = served.output()
    told = re.findall(r"closed (\d+) connection\(s\) sending a request head or trailers", log)
    assert sum(map(int, told)) == 3, log
    assert "Traceback" not in log, log

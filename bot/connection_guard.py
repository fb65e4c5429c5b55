"""What `serve` does about connections that hold a file descriptor without sending a request:
each must send a whole request head within HEAD_TIMEOUT_S (and the rest of a body it was
answered without within LINGER_S), and at most `connection_cap()` are open at once, so the
database and files keep descriptors of their own.

uvicorn has neither. Its keep-alive timeout starts only after a response, and is reset by
every byte received, so a connection that never finishes its first request head (idle, or a
slowloris trickling a header a byte at a time) is kept for ever; its `limit_concurrency`
answers 503 only once a head is whole, so such connections still pile up. At the process's
file limit (1,024 by default under systemd) every new connection, `/healthz` and Slack's
included, was reset, with nothing logged. This is uvicorn's httptools protocol (`serve`'s,
through `uvicorn[standard]`) with those deadlines and a cap on connections."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import resource
from collections.abc import Callable
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

# A request head is under a kilobyte, sent in one segment: 5 s is several retransmissions of
# it, and as long as uvicorn lets a connection sit idle between two requests.
HEAD_TIMEOUT_S = 5.0
# Descriptors kept out of the cap for everything else the process opens: the database pools
# (PostgreSQL's 20 connections; SQLite's up to 15, three files each), calls to Slack and the
# vendors' APIs, fonts for charts, logs. An idle `serve` holds about 25.
RESERVED_FILES = 256
# However high the file limit: 4,096 connections is far past what one process serves, and
# costs about 16 MB held.
MOST_CONNECTIONS = 4096
# How long the rest of a request body the app answered without reading is read and dropped:
# a client that sent a large body to be refused (401, 413) gets its answer rather than a
# reset, and one trickling the body after its answer does not keep the connection.
LINGER_S = 5.0
# Refusals and cuts are counted and logged at most once per this many seconds.
NOTICE_EVERY_S = 10.0

_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 35\r\nretry-after: 5\r\nconnection: close\r\n\r\n"
    b"too many connections: retry shortly"
)
_TOO_SLOW = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"

log = logging.getLogger("aiusage.http")


def file_limit() -> int:
    """The process's soft limit on open files, as the kernel applies it."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return MOST_CONNECTIONS + RESERVED_FILES if soft == resource.RLIM_INFINITY else soft


def connection_cap(files: int) -> int:
    """How many connections a process allowed `files` open files takes at once: all but
    RESERVED_FILES of them (half, under a limit too low for that), and MOST_CONNECTIONS."""
    return min(MOST_CONNECTIONS, max(files - RESERVED_FILES, files // 2))


class Notices:
    """Tells the operator, in one line per kind and NOTICE_EVERY_S, how many connections
    were refused at the cap or cut for being slow: a flood is thousands of them."""

    def __init__(self, cap: int, files: int) -> None:
        self.lines = {
            "refused": f"refused %d connection(s): {cap} open already, the most this process "
            f"takes with its file limit of {files} (docs/deploy.md: LimitNOFILE)",
            "head": f"closed %d connection(s) that sent no whole request head within "
            f"{HEAD_TIMEOUT_S:g} s",
            "body": f"closed %d connection(s) still sending a request body {LINGER_S:g} s "
            f"after it was answered",
        }
        self.counts = dict.fromkeys(self.lines, 0)
        self.pending: dict[str, asyncio.TimerHandle] = {}

    def note(self, loop: asyncio.AbstractEventLoop, kind: str) -> None:
        self.counts[kind] += 1
        if kind not in self.pending:  # the first of a burst is told at once, the rest later
            self.flush(loop, kind)

    def flush(self, loop: asyncio.AbstractEventLoop, kind: str) -> None:
        self.pending.pop(kind, None)
        if self._tell(kind):
            self.pending[kind] = loop.call_later(
                NOTICE_EVERY_S, self.flush, loop, kind, context=contextvars.Context()
            )

    def close(self) -> None:
        """Tells what is still untold, when the server has stopped."""
        for handle in self.pending.values():
            handle.cancel()
        self.pending.clear()
        for kind in self.counts:
            self._tell(kind)

    def _tell(self, kind: str) -> bool:
        count, self.counts[kind] = self.counts[kind], 0
        if count:
            log.warning(self.lines[kind], count)
        return bool(count)


class GuardedHTTP(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, refusing a connection past `cap` open ones with 503,
    closing one whose request head is not whole HEAD_TIMEOUT_S after the connection
    opened (for its first request) or the head began (for the next ones), and one still
    sending a body LINGER_S after the app answered without reading it."""

    cap: ClassVar[int]
    notices: ClassVar[Notices]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.refused = False
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.cap:
            # Closed at once, so its descriptor is free again; the client is told why.
            self.refused = True
            transport.write(_REFUSED)
            transport.close()
            self.notices.note(self.loop, "refused")
            return
        super().connection_made(transport)
        self._arm(HEAD_TIMEOUT_S, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self.refused:
            super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline is None:  # a later request on a kept-alive connection
            self._arm(HEAD_TIMEOUT_S, self._head_too_slow)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Answered before its body was whole (a 401, a 413, a path that takes no body):
        # the rest is read and dropped, as uvicorn does, but not for ever. uvicorn's
        # keep-alive timeout, restarted by every byte, let a trickle hold the connection.
        cycle = self.cycle
        if cycle.response_complete and cycle.more_body and not self.transport.is_closing():
            self._arm(LINGER_S, self._body_too_slow)

    def _arm(self, seconds: float, expired: Callable[[], None]) -> None:
        self._disarm()
        # In a context of its own: not the request id of whichever request armed it.
        self.deadline = self.loop.call_later(seconds, expired, context=contextvars.Context())

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _head_too_slow(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.scope is not None:  # a head was begun: a slow client may be honest
            self.transport.write(_TOO_SLOW)
        self.transport.close()
        self.notices.note(self.loop, "head")

    def _body_too_slow(self) -> None:
        self.deadline = None
        if not self.transport.is_closing():
            self.transport.close()
            self.notices.note(self.loop, "body")


def guarded_http(cap: int, files: int) -> type[GuardedHTTP]:
    """The protocol class for `uvicorn.Config(http=...)`, with its limits."""
    return type(
        "GuardedHTTP",
        (GuardedHTTP,),
        {"cap": cap, "notices": Notices(cap, files)},
    )

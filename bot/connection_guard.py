"""What `serve` does about connections that hold a file descriptor without sending a request:
each must send a whole request head within HEAD_TIMEOUT_S (and the rest of a body it was
answered without within LINGER_S), no head or trailers past HEAD_LIMIT bytes are taken in,
and at most `connection_cap()` are open at once, so the database and files keep descriptors
of their own.

uvicorn has none of these. Its keep-alive timeout starts only after a response, and is reset
by every byte received (a blank line included, which begins no request), so a connection that
never finishes a request head (idle, or a slowloris trickling a header a byte at a time) is
kept for ever; its `limit_concurrency` answers 503 only once a head is whole, so such
connections still pile up. At the process's file limit (1,024 by default under systemd) every
new connection, `/healthz` and Slack's included, was reset, with nothing logged. Nor does
httptools bound a head: one client sent 800 MB of headers (or of chunked trailers, neither
head nor body) into memory. This is uvicorn's httptools protocol (`serve`'s, through
`uvicorn[standard]`) with those deadlines and limits and a cap on connections."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import resource
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

# A request head is under a kilobyte, sent in one segment: 5 s is several retransmissions of
# it, and as long as uvicorn lets a connection sit idle between two requests.
HEAD_TIMEOUT_S = 5.0
# The most of a request head, and of its chunked trailers after, that is taken in (431 past
# it): Slack's and OTLP exporters' heads are a few KiB; h11 stops at 16 KiB, nginx at 4 x 8.
HEAD_LIMIT = 64 * 1024
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
_TOO_LARGE_TEXT = f"request head is larger than {HEAD_LIMIT} bytes".encode()
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_TOO_LARGE_TEXT), _TOO_LARGE_TEXT)
)

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
            "large": f"closed %d connection(s) sending a request head or trailers past "
            f"{HEAD_LIMIT} bytes (431)",
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


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop httptools reading a head already refused."""


class GuardedHTTP(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, refusing a connection past `cap` open ones with 503,
    closing one whose request head is not whole HEAD_TIMEOUT_S after the connection
    opened (for its first request) or its first byte came (for the next ones), one whose head
    or trailers pass HEAD_LIMIT bytes (431), and one still sending a body LINGER_S after the
    app answered without reading it."""

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
        # Where the parser is: before a request (or between two), in its head, or past the
        # head (body and trailers).
        self.phase: Literal["waiting", "head", "body"] = "waiting"
        # Bytes of this request's head and trailers httptools handed over, and of those it
        # holds unhanded (it keeps a header line whole until the next one begins) as far as
        # reads with no callback at all tell: a line never ended is counted too.
        self.head_size = 0
        self.unhanded = 0
        self.handed = False

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

    def data_received(self, data: bytes) -> None:
        # uvicorn's, but for a head refused by a callback, answered 431 rather than 400.
        self._unset_keepalive_if_required()
        self.handed = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if not self.transport.is_closing():  # else refused by a callback, and told why
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self.transport.is_closing():
            return
        self.unhanded = 0 if self.handed else self.unhanded + len(data)
        if self.head_size + self.unhanded > HEAD_LIMIT:
            self._head_too_large()
        elif self.phase == "waiting" and self.deadline is None and self._answered():
            # After an answer, bytes that begin no request (httptools skips blank lines), or
            # the end of a body answered early: they stopped uvicorn's keep-alive timer for
            # good, so the next head is timed from here.
            self._arm(HEAD_TIMEOUT_S, self._head_too_slow)

    def on_message_begin(self) -> None:
        self.handed = True
        self.phase = "head"
        self.head_size = 0
        super().on_message_begin()
        if self.deadline is None:  # a later request on a kept-alive connection
            self._arm(HEAD_TIMEOUT_S, self._head_too_slow)

    def on_url(self, url: bytes) -> None:
        self.handed = True
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        # After the head, a trailer: uvicorn adds it to the request's headers, counted alike.
        self.handed = True
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.handed = True
        self.phase = "body"
        self._disarm()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.handed = True
        super().on_body(body)

    def on_message_complete(self) -> None:
        self.handed = True
        self.phase = "waiting"
        self.head_size = 0
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

    def _answered(self) -> bool:
        """Whether every request so far on this connection has been answered."""
        return self.cycle is None or self.cycle.response_complete

    def _count(self, size: int) -> None:
        self.head_size += size
        if self.head_size > HEAD_LIMIT:
            self._head_too_large()
            raise _HeadTooLarge  # stops the parser; data_received knows why

    def _head_too_large(self) -> None:
        # Told 431 unless an answer is being written on the connection already: an earlier
        # request's, or this one's when the trailers came after the app began answering.
        if self.phase == "body":
            answering = self.cycle.response_started
            self.cycle.disconnected = True  # what the app answers now goes nowhere
        else:
            answering = not self._answered()
        if not answering:
            self.transport.write(_TOO_LARGE)
        self.transport.close()
        self.notices.note(self.loop, "large")

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
        if self.phase == "head":  # a head was begun: a slow client may be honest
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

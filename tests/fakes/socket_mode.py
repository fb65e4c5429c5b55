"""A fake of Slack's Socket Mode WebSocket endpoint, on a loopback port.

It speaks the protocol as Slack does: `hello` on each new connection, envelopes
(`slash_commands`, `interactive`) that the app acknowledges by sending back
`{"envelope_id": …, "payload": …}`, and `disconnect` with `refresh_requested`, after which the
app opens a new connection (through `apps.connections.open` on the fake Web API) while the old
one stays open until the app closes it, or Slack does, `old_connection_grace` seconds later.
Every envelope's send time and its acknowledgement's arrival are recorded, so a test can tell
how long an acknowledgement took.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve


@dataclass
class Envelope:
    envelope_id: str
    type: str
    connection: int
    sent_at: float
    acked_at: float | None = None
    ack: dict[str, Any] | None = None

    @property
    def ack_seconds(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at


@dataclass
class FakeSocketMode:
    old_connection_grace: float = 10.0
    envelopes: dict[str, Envelope] = field(default_factory=dict)
    connections: list[ServerConnection] = field(default_factory=list)
    closed_by_client: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._server: Server | None = None
        self._ready = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-socket-mode")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeSocketMode:
        self._thread.start()
        assert self._ready.wait(10), "the fake Socket Mode server did not start"
        return self

    def stop(self) -> None:
        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}/link"

    # -- driving the app -----------------------------------------------------------------------
    def wait_connections(self, count: int, timeout: float = 20.0) -> None:
        """Wait until `count` connections have been opened (and greeted) in all."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.connections) >= count, timeout):
                raise AssertionError(f"expected {count} connection(s), got {len(self.connections)}")

    def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        response_payload: bool = True,
        retry_attempt: int = 0,
    ) -> str:
        """Send an envelope on the newest connection; returns its envelope id. A retry
        (`retry_attempt` > 0) is Slack sending an event again that it thinks went unanswered."""
        envelope_id = f"env-{next(self._ids)}"
        message = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        index = len(self.connections) - 1
        with self._changed:
            self.envelopes[envelope_id] = Envelope(envelope_id, kind, index, time.monotonic())
        self._call(self.connections[index].send(json.dumps(message)))
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> Envelope:
        """The envelope once acknowledged; fails after `timeout` (Slack itself waits 3 s)."""
        with self._changed:
            envelope = self.envelopes[envelope_id]
            if not self._changed.wait_for(lambda: envelope.acked_at is not None, timeout):
                raise AssertionError(f"{envelope_id} was not acknowledged within {timeout} s")
        return envelope

    def refresh(self) -> None:
        """Ask the app to reconnect, as Slack does every few hours."""
        message = {
            "type": "disconnect",
            "reason": "refresh_requested",
            "debug_info": {"host": "applink-fake"},
        }
        self._call(self.connections[-1].send(json.dumps(message)))

    # -- the server side -----------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def open_server() -> None:
            self._server = await serve(self._handle, "127.0.0.1", 0)

        self._loop.run_until_complete(open_server())
        self._ready.set()
        self._loop.run_forever()

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _handle(self, connection: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0001"},
        }
        await connection.send(json.dumps(hello))
        with self._changed:
            self.connections.append(connection)
            index = len(self.connections) - 1
            self._changed.notify_all()
        reader = asyncio.ensure_future(self._read(connection, index))
        refreshed = False
        while not reader.done():
            await asyncio.wait([reader], timeout=0.05)
            if not refreshed and len(self.connections) > index + 1:
                # Replaced: Slack closes the old connection itself after a grace period.
                refreshed = True
                asyncio.get_running_loop().call_later(
                    self.old_connection_grace,
                    lambda: asyncio.ensure_future(connection.close(1001, "refreshed")),
                )

    async def _read(self, connection: ServerConnection, index: int) -> None:
        try:
            async for raw in connection:
                arrived = time.monotonic()
                message = json.loads(raw)
                with self._changed:
                    envelope = self.envelopes.get(str(message.get("envelope_id")))
                    if envelope is not None and envelope.acked_at is None:
                        envelope.acked_at = arrived
                        envelope.ack = message
                        self._changed.notify_all()
        except Exception:  # a connection dropped mid-frame is as good as closed here
            pass
        with self._changed:
            self.closed_by_client.append(index)
            self._changed.notify_all()

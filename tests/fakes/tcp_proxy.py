"""A TCP proxy on a loopback port that a test can cut and restore: the network between the
service and its database going away, with every open connection dropped, then coming back.
It can also trickle: pass on an answer a byte at a time from a marker on, as a far side (or
a proxy) that stalls mid-body does."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable


class TcpProxy:
    """Forwards `host`:`port` to `target`; `cut()` refuses and drops, `restore()` forwards.
    `make_socket` makes its listening socket, which may live in another network namespace."""

    def __init__(
        self,
        target: tuple[str, int],
        host: str = "127.0.0.1",
        make_socket: Callable[[], socket.socket] = socket.socket,
    ) -> None:
        self.target = target
        self.host = host
        self.make_socket = make_socket
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._hold_after: bytes | None = None
        self._held = threading.Event()
        self.port = 0
        # Seconds between the bytes of an answer from `target` from `trickle_after` on; set
        # before the connection is made.
        self.trickle: float | None = None
        self.trickle_after = b""

    def start(self) -> TcpProxy:
        listener = self.make_socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """New connections are refused and open ones dropped, as when the database host goes."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        for sock in (listener, *sockets):
            if sock is not None:
                _close(sock)

    def hold_after(self, marker: bytes) -> None:
        """The next time a client sends `marker` (a statement's text, say), it is passed on,
        and what that client sends next is held back until `release()`: the server is left
        mid-statement (waiting for COPY's rows, say) for as long as the test likes."""
        self._held.clear()
        self._hold_after = marker

    def release(self) -> None:
        self._hold_after = None
        self._held.set()

    restore = start
    stop = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            threading.Thread(target=self._forward, args=(client, upstream), daemon=True).start()
            threading.Thread(
                target=_pipe,
                args=(upstream, client, self._slowly, self.trickle or 0.0),
                daemon=True,
            ).start()

    def _slowly(self, data: bytes) -> int | None:
        """Where in this answer to start trickling, or None to pass it on at once."""
        if self.trickle is None or not self.trickle_after:
            return None
        at = data.find(self.trickle_after)
        return None if at < 0 else at

    def _forward(self, client: socket.socket, upstream: socket.socket) -> None:
        """Client to server, holding back after `hold_after`'s marker."""
        try:
            while data := client.recv(65536):
                upstream.sendall(data)
                marker = self._hold_after
                if marker is not None and marker in data:
                    self._hold_after = None
                    self._held.wait()
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


def _pipe(
    source: socket.socket,
    sink: socket.socket,
    slowly: Callable[[bytes], int | None] = lambda _data: None,
    pause: float = 0.0,
) -> None:
    trickling = False
    try:
        while data := source.recv(65536):
            at = 0 if trickling else slowly(data)
            if at is None:
                sink.sendall(data)
                continue
            trickling = True
            sink.sendall(data[:at])
            for i in range(at, len(data)):
                sink.sendall(data[i : i + 1])
                time.sleep(pause)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()

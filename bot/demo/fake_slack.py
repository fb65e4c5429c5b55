"""A fake of Slack's Web API, served over loopback HTTP, as bolt-python's own tests do.

The tests use it, and so does `aiusage demo`, which is why it ships in the package; it only
ever listens on 127.0.0.1.

Point the real `slack_sdk.WebClient` at `fake.api_url`. Every call is recorded; failures
(429s, 5xx, Slack errors, dropped connections) can be scripted per method and channel.
`response_url`s handed to the app point here too, and their posts are recorded as calls
to the pseudo-method `response_url`. This module serves, records and scripts; the answers to
each method are mixed in from `fake_slack_methods` and `fake_slack_files`.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

from bot.demo.fake_slack_files import FilesAndGroups
from bot.demo.fake_slack_methods import TEAM_ID, WebApiMethods


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hung up before its answer was written, as Slack would not:
    a stalled answer outlives the client's timeout, and its traceback on stderr landed in
    whichever test was running by then."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    path: str = ""


@dataclass
class Failure:
    method: str
    channel: str | None
    status: int
    error: str | None
    retry_after: int | str | None  # a str is sent as it is: a hostile header, say
    drop_connection: bool
    times: int
    apply: bool = False
    stall: float = 0.0
    body: dict[str, Any] | None = None


@dataclass
class FakeSlack(WebApiMethods, FilesAndGroups):
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspace: dict[str, Any] = field(default_factory=lambda: {"team_id": TEAM_ID})
    channels: set[str] = field(default_factory=lambda: {"CAWARDS", "CGENERAL"})
    not_in: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # Socket Mode: the WebSocket URL apps.connections.open hands out, for this app token only.
    socket_mode_url: str | None = None
    app_token: str = "xapp-1-A0001-test"
    _failures: list[Failure] = field(default_factory=list)
    _delays: dict[str, float] = field(default_factory=dict)
    _after: dict[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    _before: dict[str, Callable[[dict[str, Any]], bool]] = field(default_factory=dict)
    # Seconds a new message takes to show in conversations.history (Slack's can lag).
    history_lag: float = 0.0
    _posted_at: dict[str, float] = field(default_factory=dict)
    usergroups: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # files.uploadV2
    next_file_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # `shutdown` waits for the serving loop to look up; at the default half a second a look,
        # stopping the fake took longer than most tests that use it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"{self.url}/response/{name}"

    # -- set-up --------------------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        tz: str = "Europe/Berlin",
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
    ) -> None:
        name = name or user_id.lower()
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,  # a member of the app's own workspace, as auth.test names it
            "name": name,
            "real_name": name.title(),
            "tz": tz,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_bot": is_bot,
            "deleted": False,
            "profile": {"email": email, "display_name": name, "real_name": name.title()},
        }

    def add_usergroup(
        self, group_id: str, handle: str, users: list[str], *, disabled: bool = False
    ) -> None:
        """A user group (@handle) with these members; a disabled one is listed only when
        `include_disabled` is asked for, as Slack does."""
        self.usergroups[group_id] = {
            "id": group_id,
            "team_id": TEAM_ID,
            "handle": handle,
            "name": handle.title(),
            "date_delete": 1 if disabled else 0,
            "users": list(users),
        }

    def after(self, method: str, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call `callback(params)` once `method` has taken effect, before Slack answers:
        the moment to kill a client to see what it does when it never hears back."""
        self._after[method] = callback

    def before(self, method: str, callback: Callable[[dict[str, Any]], bool]) -> None:
        """Call `callback(params)` before `method` takes effect (it may block, e.g. until the
        test has killed the client); it returns False to drop the call unanswered, undone."""
        self._before[method] = callback

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | str | None = None,
        channel: str | None = None,
        drop_connection: bool = False,
        times: int = 1,
        apply: bool = False,
        stall: float = 0.0,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Make the next `times` calls to `method` (for `channel`, if given) fail this way:
        an HTTP status (429 with `retry_after`, 500...), a Slack `error` with ok=false (and
        the other fields of `body`, as `needed` with `missing_scope`), or a connection
        dropped without an answer. With `apply`, the call takes effect first (a message is
        posted) and only the answer fails, as when Slack errs after posting. `stall` waits
        that long before answering (past the client's timeout, say)."""
        with self._lock:
            self._failures.append(
                Failure(
                    method,
                    channel,
                    status,
                    error,
                    retry_after,
                    drop_connection,
                    times,
                    apply,
                    stall,
                    body,
                )
            )

    def heal(self, method: str) -> None:
        """Drop the failures still scripted for `method`: Slack (or our token) is put right."""
        with self._lock:
            self._failures = [f for f in self._failures if f.method != method]

    def delay(self, method: str, seconds: float) -> None:
        """Make every call to `method` take `seconds` before it is answered (a slow Slack)."""
        with self._lock:
            self._delays[method] = seconds

    # -- reading what the app did --------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 15.0) -> list[Call]:
        """The calls to `method` once there are at least `count`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"expected {count} call(s) to {method}, got {self.calls_to(method)}")

    # -- the server side -----------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urlparse(request.path)
        if parsed.path.startswith("/upload/"):
            self._receive_file(request, parsed.path.removeprefix("/upload/"))
            return
        params = self._params(request, parsed.query)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if parsed.path.startswith("/response/"):
            method = "response_url"
        else:
            method = parsed.path.removeprefix("/api/")
        with self._lock:
            self.calls.append(Call(method, params, headers, parsed.path))
            failure = self._take_failure(method, params)
            pause = self._delays.get(method, 0.0)
        if pause:
            time.sleep(pause)
        hook = self._before.get(method)
        if hook is not None and not hook(params):
            request.close_connection = True
            request.connection.close()
            return
        if failure is not None:
            if failure.apply:
                self._call_api(method, params)
            if failure.stall:
                time.sleep(failure.stall)
            if failure.drop_connection:
                request.close_connection = True
                request.connection.close()
                return
            if failure.status != 200:
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                self._send(request, failure.status, {"ok": False, "error": "fake_failure"}, extra)
                return
            self._send(request, 200, {**(failure.body or {}), "ok": False, "error": failure.error})
            return
        if method == "response_url":
            request.send_response(200)
            request.send_header("Content-Type", "text/plain")
            request.end_headers()
            request.wfile.write(b"ok")
            return
        if method != "auth.test" and not headers.get("authorization", "").startswith("Bearer x"):
            self._send(request, 200, {"ok": False, "error": "not_authed"})
            return
        if method == "apps.connections.open":
            params["_authorization"] = headers.get("authorization", "")
        body = self._call_api(method, params)
        callback = self._after.get(method)
        if callback is not None:
            callback(params)
        self._send(request, 200, body)

    def _call_api(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        return handler(params) if handler else {"ok": False, "error": "unknown_method"}

    def _take_failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        for failure in self._failures:
            if failure.method != method or failure.times <= 0:
                continue
            if failure.channel is not None and params.get("channel") != failure.channel:
                continue
            failure.times -= 1
            return failure
        return None

    @staticmethod
    def _params(request: BaseHTTPRequestHandler, query: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(query))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        if raw:
            if "json" in (request.headers.get("Content-Type") or ""):
                params.update(json.loads(raw))
            else:
                params.update(parse_qsl(raw.decode()))
        for key in ("blocks", "metadata", "attachments"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)

    # -- what the method mixins ask of the core ----------------------------------------------
    def _note(self, method: str, params: dict[str, Any]) -> None:
        self.calls.append(Call(method, params, {}))

    def _upload_url(self, file_id: str) -> str:
        return f"{self.url}/upload/{file_id}"

"""Socket Mode: Slack's requests over an outgoing WebSocket, to the same Bolt listeners.

We run slack_sdk's asyncio Socket Mode client (on `websockets`) in an event loop of its own,
and hand each envelope to the synchronous Bolt app in a worker thread. Reading never waits for
a listener, and a refresh opens and reads the new connection before the old one is closed, so
the first envelope after a refresh is acknowledged as fast as any other. The built-in client
reads the new connection only after a slow close of the old one (about 3 s, past Slack's
deadline), and the websocket-client one stalled for ~10 s on some refreshes in our measurements
(docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.socket_mode.websockets import SocketModeClient

from bot.slack.request import shape_problem
from bot.slack.retries import EventsInHand

log = logging.getLogger("aiusage.socket_mode")
CLOSE_TIMEOUT_S = 30.0
# How a refusal's log line names each kind of envelope.
_KINDS = {"slash_commands": "slash command", "interactive": "click", "events_api": "event"}


class SocketModeRefused(Exception):
    """Slack would not open a Socket Mode connection (a refused app token, most often)."""


class _Client(SocketModeClient):
    """slack_sdk's client, asking for its WebSocket URL through our synchronous Web API client
    (which honours SLACK_API_URL and retries), run off the event loop."""

    def __init__(self, app_token: str, web: WebClient) -> None:
        super().__init__(app_token, logger=log, ping_interval=10)
        self._web = web

    async def issue_new_wss_url(self) -> str:
        answer = await asyncio.to_thread(self._web.apps_connections_open, app_token=self.app_token)
        return str(answer["url"])


class SocketModeRunner:
    """Connects to Slack and dispatches every envelope to `app` until closed."""

    def __init__(self, app: App, app_token: str, web: WebClient, *, workers: int = 8) -> None:
        self._app = app
        self._app_token = app_token
        self._web = web
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="slack-socket")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socket-mode")
        self._client: _Client | None = None
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._in_hand = EventsInHand()

    def connect(self) -> None:
        """Open the connection; raise SocketModeRefused with a one-line reason if Slack says no."""
        self._thread.start()
        try:
            self._run(self._connect(), timeout=60)
        except SlackApiError as exc:
            self.close()
            error = exc.response.get("error") if exc.response is not None else None
            raise SocketModeRefused(f"Slack refused the app token ({error})") from None
        except (OSError, TimeoutError) as exc:
            self.close()
            raise SocketModeRefused(
                f"could not reach Slack's Socket Mode endpoint ({exc})"
            ) from None
        except Exception as exc:  # websockets' handshake errors, among others
            self.close()
            raise SocketModeRefused(f"could not open the Socket Mode connection ({exc})") from None

    def close(self) -> None:
        """Stop taking envelopes, let those being handled finish (their acks and replies go
        out), then close the connection."""
        if self._thread.is_alive():
            try:
                self._run(self._close(), timeout=CLOSE_TIMEOUT_S)
            except Exception as exc:
                log.warning("socket mode did not close cleanly: %r", exc)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()
        self._pool.shutdown(wait=True)

    # -- on the event loop ---------------------------------------------------------------------
    def _run(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _connect(self) -> None:
        client = _Client(self._app_token, self._web)
        client.socket_mode_request_listeners.append(self._on_request)
        self._client = client
        await client.connect()

    async def _close(self) -> None:
        client = self._client
        if client is None:
            return
        # No reconnection from here on, and nothing new read: the receiver stops first.
        client.auto_reconnect_enabled = False
        if client.message_receiver is not None:
            client.message_receiver.cancel()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=CLOSE_TIMEOUT_S - 5)
        await client.close()

    async def _on_request(
        self, socket: AsyncBaseSocketModeClient, request: SocketModeRequest
    ) -> None:
        work = asyncio.get_running_loop().run_in_executor(self._pool, self._dispatch, request)
        self._in_flight.add(work)
        try:
            answer = await work
        finally:
            self._in_flight.discard(work)
        if answer is not None:
            # Over the WebSocket, not a Web API method (tests/test_manifest.py reads `client.`).
            await socket.send_socket_mode_response(answer)

    def _dispatch(self, request: SocketModeRequest) -> SocketModeResponse | None:
        """Run the Bolt app on one envelope (in a worker thread): the ack it gives, as the
        envelope's response. One the HTTP door would refuse with 400 (`shape_problem`: a
        `response_url` that is no https address, a command without a user) is acknowledged,
        so Slack does not send it again, and not acted on."""
        if problem := envelope_problem(request.payload):
            kind = _KINDS.get(request.type, "envelope")
            user = envelope_user(request.payload)
            log.warning("a %s by %.40s is not acted on: %s", kind, user, problem)
            return SocketModeResponse(envelope_id=request.envelope_id)
        # Slack sends an event again when it thinks the ack was late or lost, as over HTTP
        # (bot/slack/app.py): a Home open retried published the tab again.
        event_id = request.payload.get("event_id")
        event_id = event_id if isinstance(event_id, str) else None
        if event_id is not None and not self._in_hand.claim(event_id):
            log.info(
                "slack retry %s of event %.40s skipped: taken in already",
                request.retry_attempt,
                event_id,
            )
            return SocketModeResponse(envelope_id=request.envelope_id)
        answer = None
        try:
            bolt_request = BoltRequest(mode="socket_mode", body=request.payload)
            answer = envelope_response(request.envelope_id, self._app.dispatch(bolt_request))
        finally:
            if event_id is not None and answer is None:
                self._in_hand.drop(event_id)  # not done: Slack's retry should do it
        return answer


def envelope_problem(payload: object) -> str | None:
    """Why an envelope's payload is nothing to act on, as the HTTP door words it; None when
    it is something to act on."""
    if not isinstance(payload, dict):
        return "payload is not a JSON object"
    return shape_problem(payload)


def envelope_user(payload: object) -> str:
    """Who sent an envelope, for a log line: a command's user_id, a click's user."""
    if not isinstance(payload, dict):
        return "nobody"
    user = payload.get("user_id") or payload.get("user") or (payload.get("event") or {})
    if isinstance(user, dict):
        user = user.get("id") or user.get("user")
    return str(user) if user else "nobody"


def envelope_response(envelope_id: str, answer: BoltResponse) -> SocketModeResponse | None:
    """Bolt's answer as Slack's Socket Mode acknowledgement (None when Bolt refused it)."""
    if answer.status != 200:
        log.info("envelope not handled (status %s)", answer.status)
        return None
    if not answer.body:
        return SocketModeResponse(envelope_id=envelope_id)
    content_type = (answer.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        return SocketModeResponse(envelope_id=envelope_id, payload=json.loads(answer.body))
    return SocketModeResponse(envelope_id=envelope_id, payload={"text": answer.body})

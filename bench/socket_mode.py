"""Compare Socket Mode clients on the acknowledgement of the first envelope after a refresh.

Each client connects to a local fake of Slack's Socket Mode endpoint (the one the tests use),
with a bare Bolt app that only acknowledges. Every round: Slack asks for a refresh
(`disconnect`, `refresh_requested`), the client opens a new connection, and at once a slash
command arrives on it; we time its acknowledgement, and that of one more envelope after it.

    python bench/socket_mode.py                       # all three clients, 20 refreshes each
    python bench/socket_mode.py --clients ours --refreshes 50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt import App  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from bot.demo.fake_slack import FakeSlack  # noqa: E402
from bot.slack.socket_mode import SocketModeRunner  # noqa: E402
from tests.fakes.socket_mode import FakeSocketMode  # noqa: E402

SLACK_DEADLINE_S = 3.0


def bare_app(web: WebClient) -> App:
    app = App(client=web, token_verification_enabled=False, request_verification_enabled=False)
    app.command("/aiusage")(lambda ack: ack())
    return app


def connect(kind: str, app: App, token: str, web: WebClient) -> Callable[[], None]:
    """Start the `kind` client; returns how to close it."""
    if kind == "ours":
        runner = SocketModeRunner(app, token, web)
        runner.connect()
        return runner.close
    handler: Any
    if kind == "websocket-client":
        from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler

        handler = SocketModeHandler(app, token, web_client=web)
    else:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(app, token, web_client=web)
    handler.connect()
    return handler.close


def command() -> dict[str, str]:
    return {
        "command": "/aiusage",
        "text": "me",
        "user_id": "UALICE",
        "team_id": "T0001",
        "channel_id": "CGENERAL",
        "api_app_id": "A0001",
        "response_url": "http://127.0.0.1:9/response/r1",
        "trigger_id": "1.2.3",
    }


def measure(kind: str, refreshes: int) -> tuple[list[float], list[float], list[float]]:
    fake, socket = FakeSlack().start(), FakeSocketMode().start()
    fake.socket_mode_url = socket.url
    web = WebClient(token="xoxb-bench", base_url=fake.api_url)
    close = connect(kind, bare_app(web), fake.app_token, web)
    first, second, gaps = [], [], []
    try:
        socket.wait_connections(1)
        socket.wait_ack(socket.send("slash_commands", command()))
        for round_ in range(refreshes):
            asked = time.monotonic()
            socket.refresh()
            socket.wait_connections(round_ + 2, timeout=60)
            gaps.append(time.monotonic() - asked)
            first.append(socket.wait_ack(socket.send("slash_commands", command()), 30).ack_seconds)
            second.append(socket.wait_ack(socket.send("slash_commands", command()), 30).ack_seconds)
    finally:
        close()
        socket.stop()
        fake.stop()
    return first, second, gaps  # type: ignore[return-value]


def describe(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    late = sum(1 for s in seconds if s >= SLACK_DEADLINE_S)
    return (
        f"median {statistics.median(ms):7.1f} ms  max {ms[-1]:8.1f} ms  "
        f"late (>= 3 s) {late}/{len(ms)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=20)
    parser.add_argument(
        "--clients",
        nargs="+",
        default=["ours", "websocket-client", "builtin"],
        choices=["ours", "websocket-client", "builtin"],
    )
    args = parser.parse_args()
    for kind in args.clients:
        started = time.monotonic()
        first, second, gaps = measure(kind, args.refreshes)
        took = time.monotonic() - started
        print(f"{kind:17} refresh to new connection: {describe(gaps)}")
        print(f"{'':17} first envelope's ack:      {describe(first)}")
        print(f"{'':17} the next envelope's ack:   {describe(second)}  ({took:.0f} s in all)")


if __name__ == "__main__":
    main()

"""`aiusage serve`: the HTTP server (Slack endpoint, ingestion API, health, metrics)."""

from __future__ import annotations

import argparse
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import uvicorn

from bot.cli.context import CliContext
from bot.composition import build_scheduler, create_bolt_app, create_http_app
from bot.slack.client import make_web_client
from bot.slack.socket_mode import SocketModeRefused, SocketModeRunner


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the HTTP server and the scheduler")
    serve.add_argument("--host", help="listen address (default AIUSAGE_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default AIUSAGE_PORT)")
    serve.add_argument(
        "--socket-mode",
        action="store_true",
        help="take Slack's requests over Socket Mode (SLACK_APP_TOKEN) instead of HTTP",
    )
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace, cli: CliContext) -> int:
    settings = cli.settings
    if args.socket_mode and (settings.slack_app_token is None or settings.slack_bot_token is None):
        print(
            "aiusage: SLACK_APP_TOKEN: --socket-mode needs an app-level token (xapp-...) "
            "and SLACK_BOT_TOKEN",
            file=sys.stderr,
        )
        return 2
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal; landing it
    # here makes a requested stop exit 0, as supervisors expect of a clean shutdown.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    services = cli.services(migrate=True)
    socket_mode = None
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-after-ack")
    bolt = None
    if args.socket_mode:
        assert settings.slack_app_token is not None
        # The same listeners; the app token authenticates this connection, so the signing
        # secret is needed only if Slack also sends requests over HTTP.
        bolt = create_bolt_app(services, executor)
        assert bolt is not None
        socket_mode = SocketModeRunner(
            bolt, settings.slack_app_token.get_secret_value(), make_web_client(settings)
        )
        try:
            socket_mode.connect()
        except SocketModeRefused as exc:
            print(f"aiusage: SLACK_APP_TOKEN: {exc}", file=sys.stderr)
            executor.shutdown(wait=False)
            services.db.dispose()
            return 1
    app = create_http_app(services, bolt=bolt, scheduler=build_scheduler(services))
    try:
        # uvicorn finishes in-flight requests on SIGTERM, so an acknowledged event is committed.
        uvicorn.run(
            app,
            host=args.host or settings.host,
            port=args.port or settings.port,
            log_level="info",
            access_log=False,
            timeout_graceful_shutdown=20,
        )
    finally:
        if socket_mode is not None:
            socket_mode.close()
        executor.shutdown(wait=True)
    return 0


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)

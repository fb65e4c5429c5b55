"""`aiusage serve`: the HTTP server (Slack endpoint, ingestion API, health, metrics)."""

from __future__ import annotations

import argparse
import signal

import uvicorn

from bot.app import build_scheduler, build_services, create_http_app
from bot.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="run the HTTP server and the scheduler")
    serve.add_argument("--host", help="listen address (default AIUSAGE_HOST)")
    serve.add_argument("--port", type=int, help="listen port (default AIUSAGE_PORT)")
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal; landing it
    # here makes a requested stop exit 0, as supervisors expect of a clean shutdown.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    services = build_services(settings)
    services.db.upgrade()
    app = create_http_app(services, build_scheduler(services))
    # uvicorn finishes in-flight requests on SIGTERM, so an acknowledged event is committed.
    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    return 0


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)

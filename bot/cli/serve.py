"""`aiusage serve`: the HTTP server (Slack endpoint, ingestion API, health, metrics)."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import uvicorn

from bot.cli.context import CliContext
from bot.composition import (
    award_config,
    build_scheduler,
    create_bolt_app,
    create_http_app,
    home_service,
    org_service,
)
from bot.connection_guard import HEAD_TIMEOUT_S, connection_cap, file_limit, guarded_http
from bot.listening import bind_listeners, shown
from bot.logs import configure_logging
from bot.readiness import DrainingServer, Readiness
from bot.settings import MAX_PORT, MIN_PORT
from bot.slack.client import make_web_client
from bot.slack.owed_replies import OwedReplies
from bot.slack.rankings import Rankings
from storage.coordination import CannotServe, single_server

log = logging.getLogger("aiusage.serve")


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
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    if not MIN_PORT <= port <= MAX_PORT:  # AIUSAGE_PORT is held to them already
        print(f"aiusage: --port: expected {MIN_PORT} to {MAX_PORT}, got {port}", file=sys.stderr)
        return 2
    # Bound first: a port taken or a host unknown used to surface only after the migrations
    # and the scheduler's first jobs had run, as uvicorn's exit 3 amid the log lines.
    try:
        listeners = bind_listeners(host, port)
    except socket.gaierror as exc:
        name = "--host" if args.host else "AIUSAGE_HOST"
        print(f"aiusage: {name}: cannot resolve {host!r}: {exc.strerror}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"aiusage: cannot listen on {shown(host, port)}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        configure_logging(settings.log_format, settings.secret_values())
        # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal; landing it
        # here makes a requested stop exit 0, as supervisors expect of a clean shutdown.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        # One serving process on a SQLite file, taken before migrating; a schema newer than
        # this code is refused (SchemaTooNew, reported by `main`).
        with single_server(settings.database_url):
            return _serve(args, cli, listeners, shown(host, port))
    except CannotServe as exc:
        print(f"aiusage: AIUSAGE_DATABASE_URL: {exc}", file=sys.stderr)
        return 1
    finally:
        for listener in listeners:
            listener.close()


def _serve(
    args: argparse.Namespace, cli: CliContext, listeners: list[socket.socket], where: str
) -> int:
    settings = cli.settings
    services = cli.services(migrate=True)
    socket_mode = None
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-after-ack")
    bolt = None
    home = home_service(services)  # one chart cache for the listeners and `/charts`
    org = org_service(services)
    rankings = Rankings(services, award_config(settings))  # the week's, behind every `top`
    # Replies owed after an ack, recorded by the listeners and re-driven by the scheduler.
    owed = OwedReplies(services)
    if args.socket_mode:
        # Imported only here: the asyncio client pulls in aiohttp (~9 MB) that HTTP mode
        # never uses.
        from bot.slack.socket_mode import SocketModeRefused, SocketModeRunner

        assert settings.slack_app_token is not None
        # The same listeners; the app token authenticates this connection, so the signing
        # secret is needed only if Slack also sends requests over HTTP.
        bolt = create_bolt_app(services, executor, home, org, owed, rankings)
        assert bolt is not None
        socket_mode = SocketModeRunner(
            bolt, settings.slack_app_token.get_secret_value(), make_web_client(settings)
        )
        try:
            socket_mode.connect()
        except SocketModeRefused as exc:
            print(f"aiusage: SLACK_APP_TOKEN: {exc}", file=sys.stderr)
            executor.shutdown(wait=False)
            home.close()
            return 1
    readiness = Readiness()
    app = create_http_app(
        services,
        bolt=bolt,
        scheduler=build_scheduler(services, owed),
        readiness=readiness,
        home=home,
        org=org,
        owed=owed,
        rankings=rankings,
    )
    if org is not None:  # a Slack app to answer them
        org.warm_up()  # the first `/aiusage org` after a start is answered from it
        rankings.warm_up()  # and the first `/aiusage top`, in its ack
    # What start-up made (modules, the app, its caches) lives as long as the process: frozen,
    # the collector's full passes stop walking it. Every ingest batch allocates thousands of
    # objects, and those passes cost about a third of parsing a batch (~3 µs an event).
    gc.collect()
    gc.freeze()
    files = file_limit()
    cap = connection_cap(files)
    log.info(
        "taking at most %d connections at once (file limit %d); a request head must arrive "
        "within %g s",
        cap,
        files,
        HEAD_TIMEOUT_S,
    )
    protocol = guarded_http(cap, files)  # bot/connection_guard.py: idle and slow clients
    config = uvicorn.Config(
        app,
        http=protocol,
        log_config=None,  # our handler, in AIUSAGE_LOG_FORMAT, takes uvicorn's lines too
        access_log=False,  # RequestIds logs each request, with its id
        timeout_graceful_shutdown=20,
    )
    try:
        # SIGTERM: /readyz turns 503 at once; after AIUSAGE_DRAIN_SECONDS uvicorn stops
        # taking connections and finishes in-flight requests, so an acknowledged event is
        # committed.
        log.info("serving HTTP on %s", where)
        DrainingServer(config, readiness, settings.drain_seconds).run(sockets=listeners)
    finally:
        protocol.notices.close()
        if socket_mode is not None:
            socket_mode.close()
        executor.shutdown(wait=True)
        home.close()  # the Home tabs the after-ack work (and opens) asked for
    return 0


def _exit_cleanly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)

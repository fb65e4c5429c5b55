"""The composition root: the one place that builds and wires every part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager

from slack_bolt import App
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from bot.http import HTTPProblem, api_routes, problem_response
from bot.metrics import LatencyMiddleware, Metrics
from bot.services import Clock, Services
from bot.settings import Settings
from bot.slack_app import build_bolt_app, slack_route
from bot.slack_client import make_web_client
from jobs.weeks import utcnow
from storage.db import Database


def build_services(settings: Settings, clock: Clock = utcnow) -> Services:
    return Services(
        settings=settings,
        db=Database(settings.database_url, settings.timezone),
        clock=clock,
        metrics=Metrics(),
    )


def create_bolt_app(services: Services, executor: Executor) -> App | None:
    """The Bolt app, or None without a bot token. Work done after the ack (lazy listeners)
    runs on `executor`, which the caller shuts down."""
    if services.settings.slack_bot_token is None:
        return None
    return build_bolt_app(services, make_web_client(services.settings), executor)


def create_http_app(services: Services, bolt: App | None = None) -> Starlette:
    """The ASGI app `serve` runs: API routes and the Slack endpoint (which answers 503 until
    Slack is configured). Pass `bolt` to share one Bolt app with Socket Mode."""
    executor = None
    if bolt is None:
        executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-after-ack")
        bolt = create_bolt_app(services, executor)
    # Requests over HTTP are only taken when their signatures can be checked.
    http_slack = bolt if services.settings.slack_signing_secret is not None else None

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        if executor is not None:
            # Replies still owed through response_url go out before we stop.
            await run_in_threadpool(executor.shutdown, wait=True)
        services.db.dispose()

    app = Starlette(
        routes=[*api_routes(services), slack_route(http_slack.dispatch if http_slack else None)],
        exception_handlers={HTTPProblem: problem_response},
        lifespan=lifespan,
    )
    app.add_middleware(LatencyMiddleware, metrics=services.metrics)
    return app

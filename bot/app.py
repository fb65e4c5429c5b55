"""The composition root: the one place that builds and wires every part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from bot.http import HTTPProblem, api_routes, problem_response
from bot.metrics import LatencyMiddleware, Metrics
from bot.otlp import otlp_routes
from bot.services import Clock, Services
from bot.settings import Settings
from jobs.weeks import utcnow
from storage.db import Database


def build_services(settings: Settings, clock: Clock = utcnow) -> Services:
    return Services(
        settings=settings,
        db=Database(settings.database_url, settings.timezone),
        clock=clock,
        metrics=Metrics(),
    )


def create_http_app(services: Services) -> Starlette:
    """The ASGI app `serve` runs: API routes and, when configured, the Slack endpoint."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        services.db.dispose()

    app = Starlette(
        routes=api_routes(services) + otlp_routes(services),
        exception_handlers={HTTPProblem: problem_response},
        lifespan=lifespan,
    )
    app.add_middleware(LatencyMiddleware, metrics=services.metrics)
    return app

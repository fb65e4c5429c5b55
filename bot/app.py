"""The composition root: the one place that builds and wires every part."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from bot.http import HTTPProblem, api_routes, problem_response
from bot.metrics import LatencyMiddleware, Metrics
from bot.notifier import SlackNotifier
from bot.otlp import otlp_routes
from bot.services import Clock, Services
from bot.settings import Settings
from bot.slack_client import make_web_client
from jobs.awards import AwardConfig, catch_up_due, scan_current_week, scheduled_awards
from jobs.schedule import Scheduler
from jobs.weeks import utcnow
from storage.db import Database

log = logging.getLogger(__name__)


def build_services(settings: Settings, clock: Clock = utcnow) -> Services:
    return Services(
        settings=settings,
        db=Database(settings.database_url, settings.timezone),
        clock=clock,
        metrics=Metrics(),
    )


def award_config(settings: Settings) -> AwardConfig:
    return AwardConfig(
        channels=settings.award_channels,
        schedule=settings.award_schedule,
        tz=settings.timezone,
        rules=settings.award_rules(),
    )


def slack_notifier(settings: Settings) -> SlackNotifier | None:
    """The notifier award posts go through; None without a bot token. Its client does not
    retry 5xx, since a 5xx can follow a post Slack made; posting verifies instead."""
    if settings.slack_bot_token is None:
        return None
    return SlackNotifier(make_web_client(settings, retry_server_errors=False))


def build_scheduler(services: Services) -> Scheduler:
    """The weekly award job, the hourly integrity scan and the start-up catch-up."""
    config = award_config(services.settings)
    notifier = slack_notifier(services.settings)

    def award_job() -> None:
        if notifier is None:
            log.warning("weekly awards skipped: SLACK_BOT_TOKEN is not set")
            return
        scheduled_awards(services.db, notifier, config, services.clock)

    return Scheduler(
        config.schedule,
        config.tz,
        award_job=award_job,
        integrity_job=lambda: scan_current_week(services.db, config, services.clock()),
        catch_up_due=lambda: catch_up_due(services.db, config, services.clock()),
    )


def create_http_app(services: Services, scheduler: Scheduler | None = None) -> Starlette:
    """The ASGI app `serve` runs: API routes and, when configured, the Slack endpoint; the
    scheduler, when given, runs from start-up until shutdown (SIGTERM included)."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()
            services.db.dispose()

    app = Starlette(
        routes=api_routes(services) + otlp_routes(services),
        exception_handlers={HTTPProblem: problem_response},
        lifespan=lifespan,
    )
    app.add_middleware(LatencyMiddleware, metrics=services.metrics)
    return app

"""The composition root: the one place that builds and wires every part."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta

from slack_bolt import App
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from bot.api.decode_gate import DecodeGate
from bot.api.health import health_routes
from bot.api.ingest import ingest_routes
from bot.api.otlp_receiver import otlp_routes
from bot.connectors.registry import configured, run_connectors
from bot.logs import RequestIds
from bot.metrics import LatencyMiddleware, Metrics
from bot.readiness import Readiness
from bot.services import Clock, Services
from bot.settings import Settings
from bot.slack.app import build_bolt_app, slack_route
from bot.slack.chart_route import chart_routes
from bot.slack.chart_upload import SlackFiles
from bot.slack.client import make_web_client
from bot.slack.forgotten_home import SlackHomeEraser
from bot.slack.home_service import HomeService
from bot.slack.identity import RefusalLog, resolve_unmatched_emails
from bot.slack.notifier import DirectMessageNotifier, SlackNotifier
from bot.slack.org_service import OrgService
from bot.slack.owed_replies import OwedReplies
from bot.slack.privacy_service import PrivacyService
from bot.slack.rankings import Rankings
from bot.slack.usage_service import UsageService
from bot.slack.usergroups import sync_usergroups
from bot.web import HTTPProblem, problem_response, unavailable_response
from jobs.admin import AdminConfig, AdminService
from jobs.awards import (
    AwardConfig,
    catch_up_due,
    rebuild_award_post,
    scan_current_week,
    scheduled_awards,
)
from jobs.digest import send_digests
from jobs.file_deletes import sweep_owed_files
from jobs.privacy import edit_owed_award_posts
from jobs.redrive import redrive
from jobs.replicas import run_once_across_replicas
from jobs.retention import apply_retention
from jobs.schedule import Scheduler
from jobs.weekly import resum_marked_weeks
from jobs.weeks import utcnow
from storage.days_zone import ZoneMismatch
from storage.db import UNAVAILABLE, Database, patient

log = logging.getLogger(__name__)


class SchemaBehind(Exception):
    """The database's schema is older than this code; only `db upgrade` and `serve` migrate."""


def open_database(settings: Settings, *, migrate: bool = False) -> Database:
    """The database, migrated first when `migrate`; otherwise refused if its schema is behind,
    so a read-only command never changes the schema under a running server (SchemaTooNew when
    it is ahead). Either way it is refused when its days are counted in another zone than
    ours (ZoneMismatch)."""
    db = Database(settings.database_url, settings.timezone)
    if migrate:
        try:
            db.upgrade()  # under a lock across replicas; SchemaTooNew when the code is older
        except Exception:
            db.dispose()
            raise
    elif not db.schema_is_current():
        try:
            db.refuse_newer_schema()  # `db upgrade` would refuse it too: say what will help
        finally:
            db.dispose()
        raise SchemaBehind("the database schema is not current; run `aiusage db upgrade`")
    elif problem := db.zone_problem():
        db.dispose()
        raise ZoneMismatch(problem)
    return db


def build_services(settings: Settings, clock: Clock = utcnow, *, migrate: bool = False) -> Services:
    """Settings, database, clock and metrics: what every surface is handed."""
    return Services(
        settings=settings,
        db=open_database(settings, migrate=migrate),
        clock=clock,
        metrics=Metrics(),
    )


def award_config(settings: Settings) -> AwardConfig:
    return AwardConfig(
        channels=settings.award_channels,
        schedule=settings.award_schedule,
        tz=settings.timezone,
        rules=settings.award_rules(),
        posting=settings.post_policy(),
    )


def admin_config(settings: Settings) -> AdminConfig:
    return AdminConfig(
        admins=settings.admins,
        workspace_admins=settings.workspace_admins,
        channels=settings.award_channels,
        schedule=settings.award_schedule,
        tz=settings.timezone,
        posting=settings.post_policy(),
    )


def admin_service(services: Services) -> AdminService:
    """Retire, restore and status for Slack, announcing through Slack when a bot token is
    set, with 429s handed back (`in_line_notifier`): an admin waits on the announcement."""
    return AdminService(
        services.db,
        admin_config(services.settings),
        services.clock,
        in_line_notifier(services.settings),
    )


def slack_notifier(settings: Settings) -> SlackNotifier | None:
    """The notifier award posts go through; None without a bot token. Its client does not
    retry 5xx, since a 5xx can follow a post Slack made; posting verifies instead. It waits
    out 429s: nobody waits on the scheduled jobs and re-drive that use it."""
    if settings.slack_bot_token is None:
        return None
    return SlackNotifier(make_web_client(settings, retry_server_errors=False))


def in_line_notifier(settings: Settings) -> SlackNotifier | None:
    """The notifier of posts made while someone waits on them (an admin's retire confirm or
    restore note): as `slack_notifier`, but a 429 comes back at once instead of holding the
    thread that answers the admin for up to five Retry-Afters. The post stays owed in the
    outbox, its claim failed until Retry-After is over, and the re-drive posts it."""
    if settings.slack_bot_token is None:
        return None
    client = make_web_client(settings, retry_server_errors=False, wait_out_rate_limits=False)
    return SlackNotifier(client)


def build_scheduler(services: Services, owed: OwedReplies | None = None) -> Scheduler:
    """The weekly award job, the hourly integrity scan, the start-up catch-up, the pass
    that matches emails seen in usage to Slack users, the re-drive of owed posts (and of
    `owed`, the replies owed after an ack, when given), the connectors, the weekly digests
    by direct message, teams from Slack user groups, the daily retention run and the
    deletes of chart files owed in Slack."""
    config = award_config(services.settings)
    notifier = slack_notifier(services.settings)

    def award_job() -> None:
        if notifier is None:
            log.warning("weekly awards skipped: SLACK_BOT_TOKEN is not set")
            return
        scheduled_awards(services.db, notifier, config, services.clock)

    refusals = RefusalLog()  # this process's passes say a lasting refusal hourly

    def identity_job() -> None:
        if services.settings.slack_bot_token is not None:
            resolve_unmatched_emails(services, refusals=refusals)

    def connector_job() -> None:
        settings = services.settings
        names = configured(settings)
        if names:
            run_connectors(settings, services.db, services.clock, names)

    direct = (
        DirectMessageNotifier(make_web_client(services.settings, retry_server_errors=False))
        if notifier is not None
        else None
    )

    def digest_job() -> None:
        if direct is not None:
            send_digests(
                services.db,
                direct,
                config.tz,
                config.schedule,
                services.clock,
                policy=config.posting,
            )

    def catch_up() -> bool:
        # Asked at start and by the re-drive, outside `run_once`: as patient as the jobs.
        with patient():
            return catch_up_due(services.db, config, services.clock())

    return Scheduler(
        config.schedule,
        config.tz,
        award_job=award_job,
        integrity_job=lambda: scan_current_week(services.db, config, services.clock()),
        identity_job=identity_job,
        catch_up_due=catch_up,
        redrive_job=redrive_job(services, notifier),
        redrive_every=timedelta(seconds=services.settings.post_redrive_seconds),
        connector_job=connector_job,
        connector_schedule=services.settings.connector_schedule,
        digest_job=digest_job,
        teams_job=teams_job(services),
        retention_job=lambda: apply_retention(
            services.db, services.settings.retention(), services.clock()
        ),
        weekly_job=lambda: resum_marked_weeks(services.db),
        replies_job=owed.redrive if owed is not None else None,
        files_job=files_job(services),
        run_once=run_once_across_replicas(services.db, services.clock),
    )


def redrive_job(services: Services, notifier: SlackNotifier | None) -> Callable[[], None]:
    """What `serve` runs at start and every AIUSAGE_POST_REDRIVE_SECONDS: the owed posts,
    then the award-post edits owed since a forget."""
    config = award_config(services.settings)

    def run() -> None:
        if notifier is None:
            return
        rebuilders = {"awards": rebuild_award_post(services.db, config, services.clock)}
        redrive(services.db, notifier, services.clock, rebuilders=rebuilders, policy=config.posting)
        # After the posts: a post found or made just now may be one an edit waits on.
        edit_owed_award_posts(services.db, notifier, config.rules, services.clock(), config.posting)

    return run


def files_job(services: Services) -> Callable[[], object] | None:
    """Every minute: the App Home chart files owed a delete in Slack. Its client hands 429s
    back, so a rate limit sets the row's next try rather than holding the scheduler."""
    if services.settings.slack_bot_token is None:
        return None
    files = SlackFiles(make_web_client(services.settings, wait_out_rate_limits=False))
    return lambda: sweep_owed_files(services.db, files, services.clock())


def teams_job(services: Services) -> Callable[[], object] | None:
    """The hourly refresh of teams from Slack user groups, when it is turned on."""
    settings = services.settings
    if not settings.teams_from_usergroups or settings.slack_bot_token is None:
        return None
    client = make_web_client(settings)
    return lambda: sync_usergroups(services, client)


def create_bolt_app(
    services: Services,
    executor: Executor,
    home: HomeService | None = None,
    org: OrgService | None = None,
    owed: OwedReplies | None = None,
    rankings: Rankings | None = None,
) -> App | None:
    """The Bolt app, or None without a bot token. Work done after the ack (lazy listeners)
    runs on `executor`, which the caller shuts down; Home publishes run on `home`'s own
    queue, which its builder closes. `org` and `rankings`: the org view's service and the
    week's ranking behind `top`, when the caller keeps them (`serve` warms both up at
    start); `owed`: the replies owed after an ack, when the caller's scheduler re-drives them."""
    if services.settings.slack_bot_token is None:
        return None
    client = make_web_client(services.settings)  # Bolt's: the ack path
    later = after_ack_client(services.settings)
    usage = UsageService(
        services,
        admin_service(services),
        award_config(services.settings),
        org or OrgService(services, later),  # the client uploads the org view's trend chart
        # A forget edits the award posts that named the person while they wait: a 429 leaves
        # the edit owed for the re-drive rather than holding the click for minutes.
        privacy=PrivacyService(services, editor=SlackNotifier(later)),
        rankings=rankings,
    )
    home = home or home_service(services)
    # A forget also empties the person's App Home (in their turn, after any publish of theirs
    # under way) and this process's chart caches. Its file deletes hand 429s back: the file
    # stays owed for the `delete-chart-files` job rather than holding the click.
    usage.privacy.home = SlackHomeEraser(later, on_erase=home.forget_charts, publish=home.erase)
    return build_bolt_app(services, client, executor, usage, home, owed, later=later)


def after_ack_client(settings: Settings) -> WebClient:
    """The client of the work after the ack (users.info for a caller not known lately, the
    org view's chart upload): it hands Slack's 429s back at once, as the Home's does, since
    waiting them out would put the 8 after-ack threads to sleep, and every later command
    behind them. A forget's edits of award posts go through it too; announcements through
    `in_line_notifier`; award posts keep a client that waits (`slack_notifier`)."""
    return make_web_client(settings, wait_out_rate_limits=False)


def org_service(services: Services) -> OrgService | None:
    """The org view's service, uploading its trend chart with the after-ack client (a
    rate-limited upload leaves the text trend); None without a bot token, when there is no
    Slack app to answer it."""
    if services.settings.slack_bot_token is None:
        return None
    return OrgService(services, after_ack_client(services.settings))


def home_service(services: Services) -> HomeService:
    """The App Home. Build one per process and hand it to both `create_bolt_app` and
    `create_http_app`, so the Slack listeners and `/charts` share its chart cache; `close`
    it at shutdown, after the after-ack executor, to finish the publishes it owes. Its own
    client hands Slack's 429s back at once: waiting them out would put the Home's few threads
    to sleep, and everyone's Home behind them."""
    client = make_web_client(services.settings, wait_out_rate_limits=False)
    return HomeService.build(services, admin_service(services), client)


def create_http_app(
    services: Services,
    *,
    bolt: App | None = None,
    scheduler: Scheduler | None = None,
    home: HomeService | None = None,
    readiness: Readiness | None = None,
    org: OrgService | None = None,
    owed: OwedReplies | None = None,
    rankings: Rankings | None = None,
) -> Starlette:
    """The ASGI app `serve` runs: API routes, OTLP and the Slack endpoint (which answers 503
    until Slack is configured). Pass `bolt` to share one Bolt app with Socket Mode; the
    scheduler, when given, runs from start-up until shutdown (SIGTERM included); `readiness`
    is what `/readyz` reads, set to draining by `serve` on SIGTERM. A `home` passed in is
    closed by the caller."""
    executor = None
    own_home = home is None
    home = home or home_service(services)
    if bolt is None:
        executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-after-ack")
        bolt = create_bolt_app(services, executor, home, org, owed, rankings)
    # Requests over HTTP are only taken when their signatures can be checked.
    http_slack = bolt if services.settings.slack_signing_secret else None
    decodes = DecodeGate()  # the API and OTLP share one limit on bodies decoded at once

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await run_in_threadpool(scheduler.shutdown)
            if executor is not None:
                # Replies still owed through response_url go out before we stop.
                await run_in_threadpool(executor.shutdown, wait=True)
            if own_home:
                # Then the Home tabs they (or opens) asked for.
                await run_in_threadpool(home.close)
            decodes.close()
            services.db.dispose()

    app = Starlette(
        routes=[
            *ingest_routes(services, decodes),
            *health_routes(services, readiness),
            *otlp_routes(services, decodes),
            *chart_routes(home),
            slack_route(
                http_slack.dispatch if http_slack else None,
                secret.get_secret_value()
                if (secret := services.settings.slack_signing_secret)
                else None,
            ),
        ],
        exception_handlers={
            HTTPProblem: problem_response,
            **dict.fromkeys(UNAVAILABLE, unavailable_response),
        },
        lifespan=lifespan,
    )
    app.add_middleware(LatencyMiddleware, metrics=services.metrics)
    app.add_middleware(RequestIds)
    return app

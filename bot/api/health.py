"""Routes for operators and tools: health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from importlib.metadata import version

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.api.openapi import openapi_document
from bot.readiness import Readiness
from bot.services import Services
from storage.db import statement_limit

# How long each statement `/healthz` and `/readyz` make may run on PostgreSQL, lock waits
# included, before the database cancels it and the answer is 503: under the image's health
# check, which gives up after 2 s (Dockerfile), so a stalled database is reported unready
# rather than timed out on. Under a request's own limit (5 s) the check timed out first. Their
# statements read a row or two: milliseconds on a database that is well. SQLite has no limit.
HEALTH_STATEMENT_TIMEOUT_MS = 1_000


def health_routes(services: Services, readiness: Readiness | None = None) -> list[Route]:
    readiness = readiness or Readiness()

    async def healthz(_request: Request) -> Response:
        if await run_in_threadpool(_answers, services):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable", "error": "database does not answer"}, 503)

    async def readyz(_request: Request) -> Response:
        problem = await run_in_threadpool(_not_ready, services, readiness)
        if problem is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unavailable", "error": problem}, 503)

    async def metrics(_request: Request) -> Response:
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")

    document = openapi_document(version("aiusage"))

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]


def _answers(services: Services) -> bool:
    """Whether the database answers, within the health checks' statement limit."""
    with statement_limit(HEALTH_STATEMENT_TIMEOUT_MS):
        return services.db.ping()


def _not_ready(services: Services, readiness: Readiness) -> str | None:
    """Why this replica should get no traffic now, or None when it should."""
    if readiness.draining.is_set():
        return "draining: shutting down"
    with statement_limit(HEALTH_STATEMENT_TIMEOUT_MS):
        return _database_problem(services)


def _database_problem(services: Services) -> str | None:
    """Why the database cannot serve this replica, or None."""
    if not services.db.ping():
        return "database does not answer"
    try:
        if services.db.read_only():
            return "database is read-only (a standby?): writes would fail"
    except Exception:
        return "database does not answer"
    try:
        if not services.db.schema_is_current():
            return "database schema is not at this version's migrations"
    except Exception:
        return "database schema cannot be read"
    try:
        # After `db upgrade --change-timezone`, replicas still set to the old zone step out.
        if problem := services.db.zone_problem():
            return problem
    except Exception:
        return "database schema cannot be read"
    return None

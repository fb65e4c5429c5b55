"""Routes for operators and tools: health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from importlib.metadata import version

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.api.openapi import openapi_document
from bot.services import Services


def health_routes(services: Services) -> list[Route]:
    async def healthz(_request: Request) -> Response:
        if await run_in_threadpool(services.db.ping):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable", "error": "database does not answer"}, 503)

    async def metrics(_request: Request) -> Response:
        return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")

    document = openapi_document(version("aiusage"))

    async def openapi(_request: Request) -> Response:
        return JSONResponse(document)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]

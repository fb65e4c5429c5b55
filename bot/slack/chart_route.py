"""`GET /charts/<token>.png`: a person's chart for Slack's image block, behind a signed,
expiring token. Anything but a valid token gets the same 404, so nothing can be probed."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.slack.chart_tokens import chart_key, verify
from bot.slack.home_service import HomeService

NOT_FOUND = PlainTextResponse("no such chart", 404, headers={"Cache-Control": "no-store"})


def chart_routes(home: HomeService) -> list[Route]:
    async def chart(request: Request) -> Response:
        secret = home.services.settings.slack_signing_secret
        token = str(request.path_params["token"]).removesuffix(".png")
        if secret is None:
            return NOT_FOUND
        ref = verify(chart_key(secret.get_secret_value()), token, home.services.clock())
        if ref is None:
            return NOT_FOUND
        png = await run_in_threadpool(home.chart_png, ref)
        if png is None:
            return NOT_FOUND
        # Private: only Slack's image proxy should hold a copy, and only for a short while.
        return Response(
            png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"}
        )

    return [Route("/charts/{token}", chart, methods=["GET"])]

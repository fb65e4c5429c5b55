"""The Bolt app, with the listeners of `bot.slack.listeners`, and `POST /slack/events`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App, BoltRequest
from slack_bolt.logger.messages import (
    warning_client_prioritized_and_token_skipped,
    warning_token_skipped,
)
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.services import Services
from bot.slack.authorization import BotTokenAuthorize
from bot.slack.home_service import HomeService
from bot.slack.listeners import register_listeners
from bot.slack.owed_replies import OwedReplies
from bot.slack.request import SlackRequest, signature_problem
from bot.slack.retries import EventsInHand
from bot.slack.usage_service import UsageService
from bot.slack.viewers import Callers
from bot.web import read_body

# Slack's own requests are a few kilobytes; an interactive payload with a long message is the
# largest, and stays far below this.
MAX_SLACK_BODY = 256 * 1024

log = logging.getLogger("aiusage.slack")


class BoltNoise(logging.Filter):
    """Drops Bolt's log lines that say nothing to an operator: we hand Bolt our own WebClient
    and authorize with its token on purpose, so its warnings that a token was skipped are
    noise. On Bolt's logger itself, so `serve`, Socket Mode and the demo are all spared."""

    messages = frozenset({warning_client_prioritized_and_token_skipped(), warning_token_skipped()})

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self.messages


_BOLT_NOISE = BoltNoise()


def build_bolt_app(
    services: Services,
    client: WebClient,
    executor: Executor,
    usage: UsageService,
    home: HomeService | None = None,
    owed: OwedReplies | None = None,
    *,
    later: WebClient,
) -> App:
    """The Bolt app with every listener registered. Without a signing secret it can serve
    Socket Mode only (whose connection is authenticated by the app token), never HTTP.
    `later`: the client of the work after the ack, which hands 429s back at once."""
    secret = services.settings.slack_signing_secret
    assert client.token, "the Web API client needs the bot token"
    log.addFilter(_BOLT_NOISE)  # once: the same filter is never added twice
    authorize = BotTokenAuthorize(client)
    app = App(
        signing_secret=secret.get_secret_value() if secret else "",
        request_verification_enabled=secret is not None,
        client=client,
        # The bot token, without waiting on Slack's auth.test (see bot.slack.authorization).
        authorize=authorize,
        # We dispatch in a worker thread already, so run listeners there and return when they
        # finish instead of polling for the ack; slow work goes to lazy listeners.
        process_before_response=True,
        listener_executor=executor,
        logger=log,
    )
    # Who is answered: members of the workspace auth.test says the bot token belongs to.
    callers = Callers(services, authorize.workspace)
    register_listeners(app, usage, services, callers, executor, home, owed, later=later)
    return app


def slack_route(
    dispatch: Callable[[BoltRequest], Any] | None, signing_secret: str | None = None
) -> Route:
    """`POST /slack/events`. The signature is checked first (401 and one short log line when
    missing, malformed, wrong or more than five minutes old), then the body's shape (400 and
    one line when it is no Slack request we can read); Bolt's synchronous dispatch
    runs in a worker thread so a slow command never holds up the event loop. Slack's retry
    of an event this process already took in is acknowledged and not done again. Nothing is
    dispatched without a signing secret to check it with."""
    if dispatch is not None and not signing_secret:
        # An empty key would check nothing: anyone could sign with it.
        raise ValueError("the Slack endpoint needs the signing secret to check requests")
    verifier = SignatureVerifier(signing_secret) if signing_secret else None
    in_hand = EventsInHand()

    async def slack_events(request: Request) -> Response:
        if dispatch is None or verifier is None:
            return JSONResponse(
                {"error": "Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN"},
                503,
            )
        raw = (await read_body(request, MAX_SLACK_BODY)).decode("utf-8", errors="replace")
        if problem := signature_problem(verifier, raw, request.headers):
            log.warning("slack request refused: %s", problem)
            return JSONResponse({"error": "invalid request"}, 401)
        bolt_request = SlackRequest(
            body=raw,
            query=request.url.query,
            headers={key: [value] for key, value in request.headers.items()},
        )
        if bolt_request.problem:
            # Signed, so from Slack or someone holding the secret: worth a line, not a trace.
            log.warning("slack request refused: %s", bolt_request.problem)
            return JSONResponse({"error": "malformed request"}, 400)
        event_id = bolt_request.body.get("event_id")
        event_id = event_id if isinstance(event_id, str) else None
        if event_id is not None and not in_hand.claim(event_id):
            retry = request.headers.get("x-slack-retry-num", "")
            log.info("slack retry %.8s of event %.40s skipped: taken in already", retry, event_id)
            return Response(status_code=200)
        answered = False
        try:
            answer = await run_in_threadpool(dispatch, bolt_request)
            answered = 200 <= answer.status < 300
        finally:
            if event_id is not None and not answered:
                in_hand.drop(event_id)
        return Response(
            answer.body, answer.status, headers=answer.first_headers_without_set_cookie()
        )

    return Route("/slack/events", slack_events, methods=["POST"])

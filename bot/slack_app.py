"""The Slack surface: the Bolt app, its `/aiusage` listeners, and `POST /slack/events`.

Replies are answered in the command's own HTTP response (ephemeral by default, and testable
from the response) whenever we already know the caller. The first time we see someone, or when
what we know is a day old, we acknowledge at once, ask Slack who they are (`users.info`, for
their time zone), and answer through `response_url`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.answers import Viewer, viewer_from
from bot.blocks import CANCEL_ACTION, CONFIRM_ACTION, render
from bot.http import read_body
from bot.notifier import SlackNotifier
from bot.privacy_blocks import FORGET_CANCEL_ACTION, FORGET_CONFIRM_ACTION, ForgetCancelled
from bot.services import Services
from bot.slash import Request as SlashRequest
from bot.slash import Restore, Retire, Status, parse_command
from bot.usage import UsageService, actor
from jobs.admin import AdminService
from jobs.admin_rules import Refused
from storage.people import find_slack_profile, save_slack_profile, slack_profile

COMMAND = "/aiusage"
# Slack's own requests are a few kilobytes; an interactive payload with a long message is the
# largest, and stays far below this.
MAX_SLACK_BODY = 256 * 1024
# How long what users.info told us (time zone, name, admin) is trusted before asking again.
PROFILE_MAX_AGE = timedelta(hours=24)
# Whether someone is a workspace admin is trusted for much less long: a demoted admin should
# lose admin commands within minutes.
ADMIN_CHECK_MAX_AGE = timedelta(minutes=5)
ERROR_TEXT = "Sorry, something went wrong on our side. Please try again in a minute."

log = logging.getLogger("aiusage.slack")


def build_bolt_app(
    services: Services, client: WebClient, executor: Executor, admin: AdminService
) -> App:
    """The Bolt app with every listener registered. Without a signing secret it can serve
    Socket Mode only (whose connection is authenticated by the app token), never HTTP."""
    secret = services.settings.slack_signing_secret
    assert client.token, "the Web API client needs the bot token"
    app = App(
        signing_secret=secret.get_secret_value() if secret else "",
        request_verification_enabled=secret is not None,
        client=client,  # carries the bot token
        # We dispatch in a worker thread already, so run listeners there and return when they
        # finish instead of polling for the ack; slow work goes to lazy listeners.
        process_before_response=True,
        # auth.test happens on the first request, not while the app is being built.
        token_verification_enabled=False,
        listener_executor=executor,
        logger=log,
    )
    usage = UsageService(services, admin)
    usage.privacy.editor = SlackNotifier(client)  # edits award posts that named someone
    register_listeners(app, usage, services)
    return app


def register_listeners(app: App, usage: UsageService, services: Services) -> None:
    """The `/aiusage` command, the retirement buttons, and the one error handler."""

    def answer_now(ack: Ack, command: dict[str, Any], context: BoltContext) -> None:
        request = parse_command(command.get("text") or "")
        user_id = command["user_id"]
        viewer = known_viewer(services, user_id, profile_max_age(services, request, user_id))
        if viewer is None or posts_to_slack(request):
            ack()  # `answer_later` asks Slack who this is, or does the slow part, then replies
            return
        context["aiusage_answered"] = True
        ack(**render(usage.answer(request, viewer)).as_kwargs())

    def answer_later(
        command: dict[str, Any], context: BoltContext, respond: Respond, client: WebClient
    ) -> None:
        if context.get("aiusage_answered"):
            return
        try:
            request = parse_command(command.get("text") or "")
            user_id = command["user_id"]
            viewer = known_viewer(services, user_id, profile_max_age(services, request, user_id))
            viewer = viewer or learn_viewer(services, client, user_id)
            respond(**render(usage.answer(request, viewer)).as_kwargs())
        except Exception as error:
            # Bolt only logs what a lazy listener raises; the caller, acknowledged with
            # nothing, would never hear back, so they are told here, as `on_error` would.
            respond(**failure(error))

    app.command(COMMAND)(ack=answer_now, lazy=[answer_later])

    def ack_click(ack: Ack) -> None:
        ack()  # Slack wants an answer within 3 s; the work, and the reply, come after

    def clicked(decide: Callable[[Viewer, int], object]) -> Callable[..., None]:
        def after_ack(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
            try:
                user_id = body["user"]["id"]
                viewer = known_viewer(services, user_id, admin_max_age(services, user_id))
                viewer = viewer or learn_viewer(services, client, user_id)
                outcome = decide(viewer, button_value(body))
                # A refusal leaves the admin's preview alone; anything else replaces it, so
                # its buttons cannot be pressed again.
                keep = isinstance(outcome, Refused)
                respond(replace_original=not keep, **render(outcome).as_kwargs())
            except Exception as error:
                respond(**failure(error))

        return after_ack

    confirm = clicked(lambda viewer, rid: usage.admin.confirm_retire(actor(viewer), rid))
    cancel = clicked(lambda viewer, rid: usage.admin.cancel_retire(actor(viewer), rid))
    app.action(CONFIRM_ACTION)(ack=ack_click, lazy=[confirm])
    app.action(CANCEL_ACTION)(ack=ack_click, lazy=[cancel])
    # The forget buttons act on whoever clicks them, never on anyone the button names.
    forget = clicked(lambda viewer, _: usage.privacy.confirm(viewer.slack_user_id))
    keep = clicked(lambda _viewer, _: ForgetCancelled())
    app.action(FORGET_CONFIRM_ACTION)(ack=ack_click, lazy=[forget])
    app.action(FORGET_CANCEL_ACTION)(ack=ack_click, lazy=[keep])

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        """Every listener's errors: logged in full, and the caller told, privately and in
        plain words, in the answer to their own request."""
        if not body.get("response_url"):
            log.error("slack request failed: %r", error, exc_info=error)
            return None
        return BoltResponse(
            status=200,
            body=json.dumps(failure(error)),
            headers={"content-type": "application/json;charset=utf-8"},
        )


def failure(error: Exception) -> dict[str, Any]:
    """Log an error and say sorry to the caller: the message, as an ephemeral reply."""
    log.error("slack request failed: %r", error, exc_info=error)
    return {"response_type": "ephemeral", "text": ERROR_TEXT, "replace_original": False}


def posts_to_slack(request: SlashRequest) -> bool:
    """A request whose answer posts to channels, which can take longer than an ack may."""
    return isinstance(request, Restore) and bool(request.note)


def button_value(body: dict[str, Any]) -> int:
    """The pending retirement id a button carries; -1 (no such retirement) if mangled."""
    value = str((body.get("actions") or [{}])[0].get("value") or "")
    return int(value) if value.isdigit() and len(value) < 18 else -1


def admin_max_age(services: Services, slack_user_id: str) -> timedelta:
    """How old what Slack said about this user may be for an admin check: only a configured
    admin does not depend on it."""
    settings = services.settings
    if settings.workspace_admins and slack_user_id not in settings.admins:
        return ADMIN_CHECK_MAX_AGE
    return PROFILE_MAX_AGE


def profile_max_age(services: Services, request: SlashRequest, slack_user_id: str) -> timedelta:
    if isinstance(request, Retire | Restore | Status):
        return admin_max_age(services, slack_user_id)
    return PROFILE_MAX_AGE


def known_viewer(
    services: Services, slack_user_id: str, max_age: timedelta = PROFILE_MAX_AGE
) -> Viewer | None:
    """The caller as we know them, or None when Slack should be asked first (never asked,
    or asked longer than `max_age` ago)."""
    profile = find_slack_profile(services.db, slack_user_id)
    if profile is None or profile.checked_at is None:
        return None
    if services.clock() - profile.checked_at > max_age:
        return None
    return viewer_from(profile, services.settings.timezone)


def learn_viewer(services: Services, client: WebClient, slack_user_id: str) -> Viewer:
    """Ask Slack about the caller (users.info) and store it. If Slack cannot say, answer
    anyway in the configured zone and ask again next time."""
    now = services.clock()
    try:
        user = client.users_info(user=slack_user_id)["user"]
    except (SlackApiError, OSError) as exc:  # an error answer, or no answer after retries
        log.warning("users.info for %s failed: %r", slack_user_id, exc)
        known = viewer_from(
            slack_profile(services.db, slack_user_id, now), services.settings.timezone
        )
        # What Slack said about admin rights earlier is not trusted when it cannot say now.
        return replace(known, is_workspace_admin=False)
    profile = user.get("profile") or {}
    saved = save_slack_profile(
        services.db,
        slack_user_id,
        display_name=profile.get("display_name") or profile.get("real_name") or user.get("name"),
        tz=user.get("tz"),
        is_workspace_admin=bool(user.get("is_admin") or user.get("is_owner")),
        now=now,
    )
    return viewer_from(saved, services.settings.timezone)


def slack_route(dispatch: Callable[[BoltRequest], Any] | None) -> Route:
    """`POST /slack/events`. Bolt checks the signature (401 when missing, wrong or more than
    five minutes old); its synchronous dispatch runs in a worker thread so a slow command
    never holds up the event loop."""

    async def slack_events(request: Request) -> Response:
        if dispatch is None:
            return JSONResponse(
                {"error": "Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN"},
                503,
            )
        body = await read_body(request, MAX_SLACK_BODY)
        bolt_request = BoltRequest(
            body=body.decode("utf-8", errors="replace"),
            query=request.url.query,
            headers={key: [value] for key, value in request.headers.items()},
        )
        answer = await run_in_threadpool(dispatch, bolt_request)
        return Response(
            answer.body, answer.status, headers=answer.first_headers_without_set_cookie()
        )

    return Route("/slack/events", slack_events, methods=["POST"])

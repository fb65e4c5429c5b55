"""Authorizes every request from Slack with the bot token at once, never waiting on Slack.

Bolt's own single-workspace authorization asks Slack `auth.test` on the first request and
on every request after it until one succeeds. While Slack's Web API is unreachable or slow
(an outage, a restart behind a broken proxy), every command then waits out the client's
retries, past the three seconds Slack allows an acknowledgement, and fails, though most of
them need nothing from the Web API. Here `auth.test` runs in the background instead: it tells
us the bot's own ids, whether Slack accepts the token (which operators learn from the log),
and which workspace is ours, which only a caller never seen before waits for
(`bot.slack.viewers`), after the acknowledgement.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.membership import Workspace, workspace_of

log = logging.getLogger("aiusage.slack")

# `auth.test` is asked at most this often until it answers.
RETRY_AFTER_S = 30.0


class BotTokenAuthorize(Authorize):
    """The bot token for any request, with the bot's ids once `auth.test` has said them."""

    def __init__(self, client: WebClient) -> None:
        super().__init__()
        assert client.token, "the Web API client needs the bot token"
        self.client = client
        self._lock = threading.Lock()
        self._ids: dict[str, Any] | None = None  # auth.test's answer, once it came
        self._asking = False
        self._next_ask = 0.0
        self._settled = threading.Event()  # set while no auth.test is under way
        self._settled.set()

    def __call__(
        self,
        *,
        context: Any,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        **_actor: Any,
    ) -> AuthorizeResult:
        ids = self._ids
        if ids is None:
            self._ask_in_background()
            ids = {}
        return AuthorizeResult(
            enterprise_id=enterprise_id or ids.get("enterprise_id"),
            team_id=team_id or ids.get("team_id"),
            bot_token=self.client.token,
            bot_id=ids.get("bot_id"),
            bot_user_id=ids.get("user_id"),
            user_id=user_id,
        )

    def workspace(self, wait: float = 0.0) -> Workspace | None:
        """Ours, as `auth.test` said; None until it has. Waits up to `wait` seconds for an
        answer under way (or asked now), but not for one put off after a failure."""
        ids = self._ids
        if ids is None and wait > 0:
            self._ask_in_background()
            self._settled.wait(wait)
            ids = self._ids
        return workspace_of(ids) if ids is not None else None

    def _ask_in_background(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._asking or now < self._next_ask:
                return
            self._asking, self._next_ask = True, now + RETRY_AFTER_S
            self._settled.clear()
        threading.Thread(target=self._ask, name="slack-auth-test", daemon=True).start()

    def _ask(self) -> None:
        try:
            response = self.client.auth_test()
            self._ids = {
                key: response.get(key) for key in ("enterprise_id", "team_id", "bot_id", "user_id")
            }
        except SlackApiError as error:  # Slack answered, and refused the token
            log.error(
                "Slack refused SLACK_BOT_TOKEN (auth.test: %s); commands are still answered, "
                "but nothing can be posted until the token is fixed",
                error.response.get("error"),
            )
        except Exception as error:  # unreachable after the client's retries, or worse
            log.warning("auth.test failed (asked again in %.0f s): %r", RETRY_AFTER_S, error)
        finally:
            with self._lock:
                self._asking = False
                self._settled.set()

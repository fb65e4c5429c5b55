"""After a forget, the person's App Home in Slack: their chart files deleted (`files.delete`,
through `jobs.file_deletes`) and their tab replaced with one that shows nothing of theirs
(`views.publish`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.chart_upload import SlackFiles
from bot.slack.rate_limits import rate_limited
from bot.slack.views.privacy import forgotten_home_view
from jobs.file_deletes import FileDelete, NotDone
from jobs.results import RATE_LIMITED

log = logging.getLogger("aiusage.privacy")


class SlackHomeEraser:
    """Empties a forgotten person's Home through the bot's client; `on_erase` drops what
    this process keeps in memory (rendered charts, uploaded file IDs). `publish`, in `serve`,
    queues the deleted Home behind the person's other publishes (`HomeService.erase`), which
    delivers it; without it (the CLI) it is published here, and a refusal reported."""

    def __init__(
        self,
        client: WebClient,
        on_erase: Callable[[], None] | None = None,
        publish: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self.on_erase: list[Callable[[], None]] = [on_erase] if on_erase else []
        self._publish = publish

    def delete_file(self, file_id: str) -> FileDelete:
        return SlackFiles(self._client).delete_file(file_id)

    def empty_ahead(self, slack_user_id: str) -> None:
        if self._publish is not None:
            # `serve` forgets whoever clicked: their next Home open, which knows who they
            # are, shows the deleted Home even if this process dies before its erase.
            return
        try:
            self._client.views_publish(user_id=slack_user_id, view=forgotten_home_view())
        except Exception as exc:  # the forget goes on whatever Slack answers
            why = exc.response.get("error") if isinstance(exc, SlackApiError) else repr(exc)
            log.info("before a forget, the App Home was not emptied: %s", why)

    def erase(self, slack_user_id: str | None) -> list[NotDone]:
        problems: list[NotDone] = []
        for reset in self.on_erase:
            reset()
        if slack_user_id and self._publish is not None:
            self._publish(slack_user_id)
        elif slack_user_id:
            try:
                self._client.views_publish(user_id=slack_user_id, view=forgotten_home_view())
            except SlackApiError as exc:
                if rate_limited(exc):
                    problems.append(NotDone(f"App Home: {RATE_LIMITED}", rate_limited=True))
                else:
                    problems.append(NotDone(f"App Home: {exc.response.get('error')}"))
            except OSError as exc:
                problems.append(NotDone(f"App Home: {exc!r}"))
        for problem in problems:
            log.warning("after a forget, Slack did not take: %s", problem.line)
        return problems

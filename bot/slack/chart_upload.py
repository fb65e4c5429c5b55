"""Chart images uploaded to Slack (`files.uploadV2`'s three steps), for when Slack cannot
fetch them from us (Socket Mode, no public URL). The Home's image block then names the file
(`slack_file`).

One file per person is kept: a new chart replaces their previous one, and an unchanged chart
reuses its file. The person's row records the file with its chart's fingerprint, and is read
before any reuse: on several replicas, one never shows a file another replaced (and deleted),
and one that never uploaded the chart shows the recorded file rather than upload it again.

Every file is owed a delete in the database from the step that names it until it is
recorded as the person's chart, and the one it replaces from the same transaction that
replaces it (`jobs.file_deletes`): a kill, a stop or a Slack outage leaves
it owed, and the minutely job deletes it. Without the `files:write` scope uploads stop for
the life of the process and the Home shows a text chart instead; while Slack rate-limits
uploads, the Home shows one too, and the next publish uploads again.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.charts import Chart, alt_text, chart_fingerprint
from bot.slack.rate_limits import OncePer, rate_limited, retry_after
from jobs.file_deletes import ChartFiles, FileDelete
from storage.bounds import slack_file_id

log = logging.getLogger("aiusage.home")

# Errors that will not go away by trying again: the app lacks the scope, or the token type.
SCOPE_ERRORS = frozenset({"missing_scope", "not_allowed_token_type", "no_permission"})
# A file someone (or Slack) already removed is as deleted as we want it.
GONE = frozenset({"file_not_found", "file_deleted"})
MAX_KEPT = 256
FILENAME = "aiusage-chart.png"
TITLE = "Your last 12 weeks"


class SlackFiles:
    """`files.delete` through `client`: with the Home's or the job's client, a 429 comes
    back at once with its Retry-After, and is waited out by the row, not a thread."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def delete_file(self, file_id: str) -> FileDelete:
        try:
            self._client.files_delete(file=file_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in GONE:
                return FileDelete(done=True)
            if rate_limited(exc):
                return FileDelete(wait=retry_after(exc))
            return FileDelete(error=error or f"HTTP {exc.response.status_code}")
        except OSError as exc:
            return FileDelete(error=f"{type(exc).__name__}: {exc}")
        return FileDelete(done=True)


class ChartUploads:
    """Uploads chart PNGs and remembers their file IDs."""

    def __init__(
        self,
        render: Callable[[Chart], bytes],
        size: int = MAX_KEPT,
        files: ChartFiles | None = None,
    ) -> None:
        self._render = render  # the Home service's cache
        # Owes and records each person's files in the database, so a forget from any
        # process, and the job, can delete them from Slack. None: kept in memory only.
        self._files = files
        self.size = size
        self.enabled = True
        self._by_chart: OrderedDict[Chart, str] = OrderedDict()
        self._by_person: dict[int, str] = {}
        self._lock = threading.Lock()
        self._limited = OncePer()

    def file_for(self, client: WebClient, person_id: int, chart: Chart) -> str | None:
        """The Slack file ID showing `chart`, uploading it if needed; None when it cannot be."""
        if not self.enabled:
            return None
        fingerprint = chart_fingerprint(chart)
        found = self._reusable(person_id, chart, fingerprint)
        if found is not None:
            return found
        file_id = self._upload(client, person_id, chart)
        if file_id is None or not self._record(client, person_id, file_id, fingerprint):
            return None
        self._remember(person_id, chart, file_id)
        return file_id

    def _reusable(self, person_id: int, chart: Chart, fingerprint: str) -> str | None:
        """A file already showing `chart` as the person's. With the database, only the file
        it records as theirs: another replica may have replaced, and deleted, the one
        remembered here. That file is taken when its fingerprint is the chart's, whoever
        uploaded it, or when this process uploaded it for this chart (a file recorded
        before fingerprints were kept). One read of the person's row."""
        if self._files is None:
            with self._lock:
                found = self._by_chart.get(chart)
                mine = self._by_person.get(person_id)
            return found if found is not None and mine == found else None
        recorded = self._files.current(person_id)
        if recorded is None or recorded.file_id is None:
            return None
        current = recorded.file_id
        if recorded.fingerprint != fingerprint:
            with self._lock:
                if self._by_chart.get(chart) != current:
                    return None
        self._remember(person_id, chart, current)
        return current

    def _remember(self, person_id: int, chart: Chart, file_id: str) -> None:
        with self._lock:
            previous = self._by_person.get(person_id)
            self._by_person[person_id] = file_id
            self._by_chart[chart] = file_id
            self._by_chart.move_to_end(chart)
            if previous is not None and previous != file_id:
                self._by_chart = OrderedDict(
                    (c, f) for c, f in self._by_chart.items() if f != previous
                )
            while len(self._by_chart) > self.size:
                self._by_chart.popitem(last=False)

    def _upload(self, client: WebClient, person_id: int, chart: Chart) -> str | None:
        """`files.uploadV2`'s steps, taken here so the file is owed a delete between the
        first, which names it, and the last, which makes it: a kill in between leaves a
        trace. A file ID that is not one (too long, odd characters) is not uploaded."""
        png = self._render(chart)
        try:
            step = client.files_getUploadURLExternal(
                filename=FILENAME, length=len(png), alt_txt=alt_text(chart)[:1000]
            )
            file_id, url = slack_file_id(step.get("file_id")), step.get("upload_url")
            if file_id is None or not isinstance(url, str):
                if self._limited.due("file_id"):
                    log.warning("Slack gave a chart upload no usable file ID: a text chart shows")
                return None
            if self._files is not None and not self._files.uploading(person_id, file_id):
                return None  # forgotten meanwhile: nothing to show them
            sent = client._upload_file(
                url=url,
                data=png,
                logger=log,
                timeout=client.timeout,
                proxy=client.proxy,
                ssl=client.ssl,
            )
            if sent.status != 200:
                log.warning("uploading a chart failed: HTTP %s", sent.status)
                return None
            client.files_completeUploadExternal(files=[{"id": file_id, "title": TITLE}])
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if error in SCOPE_ERRORS:
                self.enabled = False
                log.warning("chart uploads are off (%s): add files:write to show images", error)
            elif rate_limited(exc):
                if self._limited.due("upload"):
                    log.warning("Slack rate limited chart uploads: Homes show a text chart")
            else:
                log.warning("uploading a chart failed: %s", error)
            return None
        except OSError as exc:
            log.warning("uploading a chart failed: %r", exc)
            return None
        return file_id

    def _record(self, client: WebClient, person_id: int, file_id: str, fingerprint: str) -> bool:
        """Record the file as the person's and delete (or owe) the one it replaces; False
        when it is not to be shown: the person is gone, or it could not be recorded (it
        stays owed from its upload, and the job deletes it)."""
        if self._files is None:
            return True
        try:
            return self._files.uploaded(person_id, file_id, SlackFiles(client), fingerprint)
        except Exception:
            log.exception("recording the chart file %s failed", file_id)
            return False

    def clear(self) -> None:
        """Forget every file ID kept here (after a person is forgotten)."""
        with self._lock:
            self._by_chart.clear()
            self._by_person.clear()

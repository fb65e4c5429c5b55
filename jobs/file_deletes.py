"""Deleting the Slack files owed a delete (old App Home charts): tried at once where they
become owed (a new chart replaces one, a forget), and by a job every minute for those that
are due, until Slack has deleted them, says they are gone, or a bound is reached.

Bounds: a failure (not a rate limit) waits 1 minute, doubling to 6 hours; a 429 waits
Slack's Retry-After and is not counted. A file is given up after 20 failures or 7 days
owed, whichever comes first, with one warning line: by then Slack has refused it for days
(a revoked token, a missing scope), and the row would otherwise be retried for ever."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from storage.db import Database
from storage.home_files import HomeChartFile, home_chart_file, owe_upload, swap_home_chart_file
from storage.owed_files import OwedFile, defer_file, give_up_files, owed_files, settle_files

log = logging.getLogger("aiusage.files")

# An upload under way is owed from its start, but not tried before this: time enough for
# its last two steps (a few Slack calls within their timeouts) and the swap that records it.
UPLOAD_GRACE = timedelta(minutes=10)
# How a file a 429 left owed ends its line (`delete_files`): the job deletes it after Retry-After.
RATE_LIMITED_OWED = "rate limited; still owed"
BATCH = 50  # per run: files.delete allows about 50 a minute (Slack's tier 3)
MAX_ATTEMPTS = 20
MAX_AGE = timedelta(days=7)
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class FileDelete:
    """What Slack said to one `files.delete`: `done` (deleted, or already gone), a rate
    limit (`wait`, its Retry-After in seconds), or why it failed (`error`)."""

    done: bool = False
    wait: float | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class NotDone:
    """Something Slack did not take, left for later: the line that says what and why, and
    whether Slack's rate limit is the reason (the caller's wording for it never depends on
    the line's text)."""

    line: str
    rate_limited: bool = False


class FileDeleter(Protocol):
    """The far side that deletes a file (`files.delete` in Slack)."""

    def delete_file(self, file_id: str) -> FileDelete: ...


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 1 minute, doubling, at most 6 hours."""
    return min(FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 20), MAX_BACKOFF)


def delete_files(
    db: Database, deleter: FileDeleter, owed: Sequence[OwedFile], now: datetime
) -> list[NotDone]:
    """Try each owed file once: a file deleted or gone is owed no more; one Slack failed
    to delete is tried again after a back-off; a 429 sets its wait and ends the pass, the
    rest staying as they were. Returns what is still owed, a line for each file."""
    left: list[NotDone] = []
    deleted: list[str] = []
    limited = False
    for file in owed:
        if limited:
            left.append(NotDone(f"chart file {file.file_id}: {RATE_LIMITED_OWED}", True))
            continue
        try:
            result = deleter.delete_file(file.file_id)
        except Exception as exc:  # one file must not stop the others
            log.exception("deleting the Slack file %s failed", file.file_id)
            result = FileDelete(error=type(exc).__name__)
        if result.done:
            deleted.append(file.file_id)
        elif result.wait is not None:
            limited = True
            wait = timedelta(seconds=result.wait)
            defer_file(db, file.file_id, now + wait, "ratelimited", failed=False)
            left.append(NotDone(f"chart file {file.file_id}: {RATE_LIMITED_OWED}", True))
        else:
            again = now + backoff(file.attempts + 1)
            defer_file(db, file.file_id, again, result.error, failed=True)
            left.append(NotDone(f"chart file {file.file_id}: {result.error}; still owed"))
    settle_files(db, deleted)
    return left


def delete_owed_now(
    db: Database, deleter: FileDeleter, file_ids: Sequence[str], now: datetime
) -> list[NotDone]:
    """`delete_files` for these files, as they are owed now."""
    if not file_ids:
        return []
    return delete_files(db, deleter, owed_files(db, file_ids=file_ids), now)


def sweep_owed_files(
    db: Database, deleter: FileDeleter, now: datetime, batch: int = BATCH
) -> list[str]:
    """The job: give up on the files past their bound (a line each), then try up to
    `batch` of those due. Returns a line for each file tried and still owed."""
    for file in give_up_files(db, MAX_ATTEMPTS, now - MAX_AGE):
        log.warning(
            "gave up deleting the Slack file %s, owed since %s, after %d failed tries: %s",
            file.file_id,
            f"{file.owed_at:%Y-%m-%d %H:%M} UTC",
            file.attempts,
            file.error or "no answer",
        )
    left = [n.line for n in delete_files(db, deleter, owed_files(db, due_at=now, limit=batch), now)]
    for line in left:
        log.info("not deleted in Slack yet: %s", line)
    return left


@dataclass(frozen=True)
class ChartFiles:
    """The bookkeeping of a person's App Home chart uploads: owed from the upload's start,
    recorded as theirs once it is done, and the file it replaces deleted (or owed)."""

    db: Database
    clock: Callable[[], datetime]

    def uploading(self, person_id: int, file_id: str) -> bool:
        """Before the upload is finished; False when the person is gone (forgotten)."""
        return owe_upload(self.db, person_id, file_id, self.clock(), UPLOAD_GRACE)

    def current(self, person_id: int) -> HomeChartFile | None:
        """The file recorded as the person's chart, by whichever process uploaded it."""
        return home_chart_file(self.db, person_id)

    def uploaded(
        self, person_id: int, file_id: str, deleter: FileDeleter, fingerprint: str | None = None
    ) -> bool:
        """Record `file_id` (showing the chart of `fingerprint`) as the person's chart and
        try the delete of the one it replaces at once; False when the person was forgotten
        meanwhile (the new file is deleted, or owed, in its turn)."""
        now = self.clock()
        owed = swap_home_chart_file(self.db, person_id, file_id, now, fingerprint)
        try:
            delete_owed_now(self.db, deleter, owed, now)
        except Exception:  # recorded and owed: the job tries again
            log.exception("deleting the replaced chart files %s failed", owed)
        return file_id not in owed

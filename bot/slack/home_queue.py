"""One person's App Home publishes, one at a time and merged, on a small pool of their own.

Slack shows the view it took last, so two publishes for one person must never overlap: one
that read the figures first could land second. A request while the person's publish is under
way waits as their one pending job; a later request replaces it (a job reads what to show
when it runs, so the latest is all that is owed). The pool is the Home's alone, so command
answers never wait behind Home tabs, and each person holds at most one of its queue slots.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("aiusage.home")

HOME_WORKERS = 2

Job = Callable[[], None]


class HomeQueue:
    """Runs each person's jobs in the order asked, at most one at a time and one pending."""

    def __init__(self, workers: int = HOME_WORKERS) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="slack-home")
        self._lock = threading.Lock()
        self._pending: dict[str, Job | None] = {}  # a key while the person's job runs
        self._closed = False

    def submit(self, slack_user_id: str, job: Job) -> None:
        """Run `job` after the person's job under way, if any, in place of any pending one."""
        with self._lock:
            if self._closed:
                log.info("Home of %s not published: stopping", slack_user_id)
                return
            if slack_user_id in self._pending:
                self._pending[slack_user_id] = job
                return
            self._pending[slack_user_id] = None
        self._pool.submit(self._run, slack_user_id, job)

    def _run(self, slack_user_id: str, job: Job) -> None:
        # The person's jobs follow one another on this thread: nothing of theirs overlaps.
        next_job: Job | None = job
        while next_job is not None:
            try:
                next_job()
            except Exception:
                log.exception("publishing the Home tab of %s failed", slack_user_id)
            with self._lock:
                next_job = self._pending.pop(slack_user_id)
                if next_job is not None:
                    self._pending[slack_user_id] = None

    def close(self) -> None:
        """Finish every job under way or pending, then take no more (at shutdown)."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True)

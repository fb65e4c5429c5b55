"""Run each scheduled job's due time once across replicas, through a claim in the database."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime

from jobs.schedule import RunOnce
from storage.coordination import claim_job
from storage.db import Database, patient

log = logging.getLogger("aiusage.jobs")


def holder_name() -> str:
    """Who holds a claim: host, process and a random tail (a restarted process is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_once_across_replicas(
    db: Database, clock: Callable[[], datetime], holder: str | None = None
) -> RunOnce:
    holder = holder or holder_name()

    def run_once(job: str, due: datetime, work: Callable[[], object]) -> object:
        # A job waits for the locks it needs (a forget's, an operator's) as long as they are
        # held: nobody waits on its answer, and one given up would come back only at its
        # next due time. Requests beside it give up after seconds instead (storage.engine).
        with patient(), claim_job(db, job, due, holder, clock()) as mine:
            if not mine:
                log.info("job %s due %s: run by another replica", job, due.isoformat())
                return None
            log.info("job %s due %s: started by %s", job, due.isoformat(), holder)
            return work()

    return run_once

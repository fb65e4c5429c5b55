"""The scheduled re-sum of the weekly rollup's marked weeks."""

from __future__ import annotations

import logging

from storage.db import Database
from storage.weekly import fresh_weeks

log = logging.getLogger(__name__)


def resum_marked_weeks(db: Database) -> int:
    """Re-sum every week with marks pending (only the people marked, see `fresh_weeks`), so
    the next read, a cold one above all, finds only the minutes since to sum. Returns how
    many weeks it summed."""
    weeks = fresh_weeks(db)
    if weeks:
        log.info("weekly rollup: re-summed %d marked week(s)", weeks)
    return weeks

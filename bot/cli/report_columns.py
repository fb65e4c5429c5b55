"""The figure columns of `aiusage report`, made from `storage.figures`: the figures the report
had from the start come before `active_days`, figures added later go last, so no column a
spreadsheet reads by position ever moves."""

from __future__ import annotations

from typing import Any

from storage.figures import NAMES, Figures, is_whole

FIRST_FIGURES = NAMES[: NAMES.index("cost_usd") + 1]
LATER_FIGURES = NAMES[len(FIRST_FIGURES) :]


def report_figures(totals: Figures) -> dict[str, Any]:
    """Every figure of `totals` as the report shows it: dollars to six places, None where
    nobody reported."""
    return {
        name: value if value is None or is_whole(name) else round(value, 6)
        for name in NAMES
        for value in (getattr(totals, name),)
    }

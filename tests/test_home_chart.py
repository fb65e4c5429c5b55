"""The Home chart's data (pure), its tokens' rules and its cache, without Slack or a database."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.charts import Chart
from bot.slack.chart_tokens import TOKEN_TTL, ChartRef, chart_key, sign, verify
from bot.slack.home_chart import chart_size, text_chart, trend_chart
from bot.slack.home_service import ChartCache
from jobs.weeks import Week
from storage.records import DailyUsage, Totals
from tests.home.helpers import wait_until

WEEK = Week(date(2026, 11, 16))  # 2026-W47
NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)


def day(d: date, tool: str, **figures) -> DailyUsage:
    return DailyUsage(1, d, tool, "other", Totals(**figures))


def test_weeks_tools_rates_tokens_and_cost():
    daily = [
        day(
            date(2026, 11, 16),
            "copilot",
            requests=10,
            suggestions_shown=40,
            suggestions_accepted=10,
        ),
        day(
            date(2026, 11, 17), "copilot", requests=5, suggestions_shown=10, suggestions_accepted=10
        ),
        day(
            date(2026, 11, 10),
            "claude-code",
            requests=3,
            input_tokens=900,
            output_tokens=100,
            cost_usd=0.5,
        ),
        day(date(2026, 11, 19), "copilot", requests=99),  # after today: not counted
        day(date(2026, 8, 1), "copilot", requests=99),  # before the 12 weeks
    ]
    chart = trend_chart(daily, WEEK, date(2026, 11, 18))
    assert chart.x_labels[0] == "2026-W36" and chart.x_labels[-1] == "2026-W47"
    requests, rates, tokens, cost = chart.panels
    series = {s.label: s.values for s in requests.series}
    assert series["copilot"][-2:] == (0.0, 15.0) and series["claude-code"][-2:] == (3.0, 0.0)
    [rate] = rates.series
    assert rate.label == "copilot" and rate.values[-1] == 40.0  # 20 of 50 accepted
    assert rate.values[-2] is None  # nothing shown that week: not reported, not 0%
    assert tokens.series[0].values[-2:] == (1000.0, 0.0) and tokens.kind == "bar"
    assert cost.series[0].values[-2:] == (0.5, None)
    assert chart_size(chart) == (800, 60 + 160 * 4)


def test_no_cost_no_cost_panel_and_many_tools_are_grouped():
    daily = [day(date(2026, 11, 16), f"tool-{n}", requests=n + 1) for n in range(8)]
    chart = trend_chart(daily, WEEK, date(2026, 11, 18))
    assert len(chart.panels) == 3
    labels = [s.label for s in chart.panels[0].series]
    assert labels == ["tool-7", "tool-6", "tool-5", "tool-4", "tool-3", "3 other tools"]
    assert chart.panels[0].series[-1].values[-1] == 1 + 2 + 3
    assert "3 other tools" in text_chart(chart)


def test_an_empty_history_still_makes_a_chart():
    chart = trend_chart([], WEEK, date(2026, 11, 18))
    assert [len(p.series) for p in chart.panels] == [0, 0, 1]
    assert "not reported" in text_chart(chart)


KEY = chart_key("secret")
REF = ChartRef(42, "2026-W47", "trend", "UALICE")


def test_a_token_grants_its_chart_until_it_expires():
    token = sign(KEY, REF, NOW)
    assert verify(KEY, token, NOW) == REF
    assert verify(KEY, token, NOW + TOKEN_TTL - timedelta(seconds=1)) == REF
    assert verify(KEY, token, NOW + TOKEN_TTL) is None
    assert verify(chart_key("other secret"), token, NOW) is None
    assert len(token) < 120 and "/" not in token and "+" not in token


@pytest.mark.parametrize(
    "ref",
    [
        ChartRef(-1, "2026-W47", "trend", "UALICE"),
        ChartRef(1, "W47", "trend", "UALICE"),
        ChartRef(1, "2026-W47", "a.b", "UALICE"),
        ChartRef(1, "2026-W47", "trend", "U.ALICE"),  # a dot would split the payload
        ChartRef(1, "2026-W47", "trend", "<@UALICE>"),
    ],
)
def test_only_well_formed_refs_are_signed(ref):
    with pytest.raises(ValueError):
        sign(KEY, ref, NOW)


@pytest.mark.parametrize("junk", ["", ".", "a.b.c", "!!!.???", "x" * 300, "é.é"])
def test_junk_is_refused(junk):
    assert verify(KEY, junk, NOW) is None


# -- the cache's renders: one at a time per chart, charts side by side -------------------------

# The cache's renderer is handed in here only to hold a render still at a known moment; the
# real one is exercised through the chart endpoint (tests/home/test_charts.py).


def test_a_render_that_fails_fails_for_everyone_waiting_and_is_not_kept():
    """The waiters get the renderer's error rather than each drawing the same failing chart
    again; the next request after it draws afresh."""
    chart = Chart("Requests per week", ())
    release = threading.Event()
    renders: list[Chart] = []

    def render(drawn: Chart) -> bytes:
        renders.append(drawn)
        release.wait(5)
        if len(renders) == 1:
            raise RuntimeError("no fonts")
        return b"png"

    cache = ChartCache(render=render)
    with ThreadPoolExecutor(3) as pool:
        asked = [pool.submit(cache.png, chart) for _ in range(3)]
        wait_until(lambda: cache.hits == 2)  # two wait on the one render under way
        release.set()
        for future in asked:
            with pytest.raises(RuntimeError, match="no fonts"):
                future.result(5)
    assert len(renders) == 1
    assert cache.png(chart) == b"png" and cache.misses == 2


def test_different_charts_render_side_by_side():
    charts = [Chart("one", ()), Chart("two", ())]
    started = {chart: threading.Event() for chart in charts}

    def render(drawn: Chart) -> bytes:
        started[drawn].set()
        [other] = [c for c in charts if c != drawn]
        return b"together" if started[other].wait(5) else b"alone"

    cache = ChartCache(render=render)
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(cache.png, charts)) == [b"together", b"together"]

"""The chart module: real PNGs of the stated size, honest alt text, and no input that breaks it."""

from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from bot.charts import (
    MAX_ALT_TEXT,
    PNG_MAGIC,
    Chart,
    Panel,
    Series,
    alt_text,
    compact_number,
    render_png,
)

WEEKS = tuple(f"2026-W{n:02d}" for n in range(35, 47))


def trend_chart(**overrides) -> Chart:
    """A three-panel 12-week chart like the App Home's."""
    fields = {
        "title": "Your last 12 weeks",
        "x_labels": WEEKS,
        "panels": (
            Panel(
                "Requests",
                "requests",
                (
                    Series("claude-code", tuple(float(n) for n in range(12))),
                    Series("copilot", tuple(float(3 * n) for n in range(12))),
                ),
            ),
            Panel("Acceptance rate", "%", (Series("copilot", (None,) * 3 + (30.0,) * 9),)),
            Panel(
                "Tokens", "tokens", (Series("all tools", tuple(1e6 * n for n in range(12))),), "bar"
            ),
        ),
    }
    fields.update(overrides)
    return Chart(**fields)


def decoded(png: bytes) -> Image.Image:
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png))
    image.load()  # raises on a truncated or corrupt file
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize(("width", "height"), [(800, 700), (801, 333), (640, 480), (1200, 257)])
def test_png_decodes_to_the_stated_size(width: int, height: int) -> None:
    image = decoded(render_png(trend_chart(), width, height))
    assert image.size == (width, height)


def test_sizes_outside_the_sane_range_are_clamped() -> None:
    assert decoded(render_png(trend_chart(), 1, 10**9)).size == (100, 4000)


def test_the_chart_is_drawn_not_blank() -> None:
    image = decoded(render_png(trend_chart())).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 20
    # The first series' blue appears: the lines and bars were drawn.
    assert any(
        abs(r - 0x1F) < 8 and abs(g - 0x77) < 8 and abs(b - 0xB4) < 8 for _, (r, g, b) in colours
    )


def test_alt_text_says_what_the_chart_shows() -> None:
    text = alt_text(trend_chart())
    assert text.startswith("Your last 12 weeks")
    assert "2026-W35 to 2026-W46" in text
    assert "claude-code 11 requests latest, 10 the week before, peak 11" in text
    assert "copilot 33 requests latest, 30 the week before" in text
    assert "Acceptance rate (%): copilot 30% latest" in text
    assert "all tools 11M tokens latest, 10M the week before" in text


def test_empty_chart_renders_and_says_no_data() -> None:
    empty = Chart("Nothing yet", ())
    assert decoded(render_png(empty, 400, 300)).size == (400, 300)
    assert alt_text(empty) == "Nothing yet No data yet."
    no_series = Chart("Quiet", (Panel("Requests", "requests", ()),), WEEKS)
    decoded(render_png(no_series))
    assert "Requests (requests): no data yet." in alt_text(no_series)


def test_unreported_values_are_not_zero() -> None:
    chart = Chart("t", (Panel("Rate", "%", (Series("kiro", (None, None)),)),), ("W1", "W2"))
    decoded(render_png(chart))
    assert "kiro not reported" in alt_text(chart)


def test_all_zero_values_render() -> None:
    zeros = Chart("z", (Panel("Requests", "", (Series("a", (0.0,) * 12),), "bar"),), WEEKS)
    decoded(render_png(zeros))
    assert "a 0 latest, 0 the week before, peak 0" in alt_text(zeros)


@pytest.mark.parametrize(
    "values",
    [
        (1e308, 1e308, 1e308),
        (math.inf, -math.inf, math.nan),
        (-1e300, 0.0, 1e300),
        (1e-300, 5e-324, 0.0),
        (2**70, 2**80, 2**90),
    ],
)
def test_extreme_values_still_render(values) -> None:
    chart = Chart(
        "x",
        (
            Panel("Line", "", (Series("s", values),)),
            Panel("Bar", "", (Series("s", values),), "bar"),
        ),
        ("a", "b", "c"),
    )
    assert decoded(render_png(chart, 500, 400)).size == (500, 400)
    assert len(alt_text(chart)) <= MAX_ALT_TEXT


HOSTILE = [
    "$x",
    "$\\frac{1}{0}$",
    "a $ b $ c $",
    "\\",
    "<!channel> *bold* `code`",
    "line\nbreak\r\ttab\x00nul\u2028sep",
    "'; DROP TABLE events; --",
    "=cmd|' /C calc'!A0",
    "🤖 tool 🚀",
    "x" * 10_000,
    "",
]


@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_labels_are_drawn_literally(label: str) -> None:
    chart = Chart(
        label,
        (Panel(label, label, (Series(label, (1.0, 2.0)), Series(label, (3.0, None)))),),
        (label, label),
    )
    decoded(render_png(chart, 400, 300))
    text = alt_text(chart)
    assert len(text) <= MAX_ALT_TEXT
    assert "\n" not in text and "\x00" not in text and "\u2028" not in text


def test_alt_text_stays_within_slacks_limit() -> None:
    panels = tuple(
        Panel(
            f"Panel {p}", "requests", tuple(Series(f"tool-{s}" * 5, (1.0, 2.0)) for s in range(20))
        )
        for p in range(30)
    )
    text = alt_text(Chart("Many", panels, ("a", "b")))
    assert len(text) == MAX_ALT_TEXT and text.endswith("…")


def test_many_points_and_mismatched_lengths() -> None:
    chart = Chart(
        "Long",
        (Panel("p", "", (Series("short", (1.0,)), Series("long", tuple(range(2000))))),),
    )
    decoded(render_png(chart))
    assert "520 weeks" in alt_text(chart)


def test_renders_in_parallel_threads_give_identical_images() -> None:
    chart = trend_chart()
    single = render_png(chart)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: render_png(chart), range(8)))
    assert all(result == single for result in results)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "0"),
        (7, "7"),
        (2.5, "2.5"),
        (0.25, "0.25"),
        (1234, "1.2k"),
        (1_000_000, "1M"),
        (3.4e9, "3.4B"),
        (1.2e12, "1.2T"),
        (1e20, "1.0e+20"),
        (-1500, "-1.5k"),
        (0.0001, "1.0e-04"),
        (math.inf, "n/a"),
    ],
)
def test_compact_numbers(value: float, shown: str) -> None:
    assert compact_number(value) == shown

"""Charts as PNG images, rendered server-side from plain data; no Slack, no database.

Uses matplotlib's object-oriented API with the Agg canvas and never `pyplot`, so no global
figure state is touched and renders may run on several threads at once. The layout is fixed
(`subplots_adjust`, a fixed title position) rather than measured (`tight_layout`), which keeps a
three-panel 800x700 render well under 150 ms.

matplotlib (with numpy, PIL and fontTools, some 55 MB resident) is imported at the first
render, not with this module: a replica that only ingests never draws, and its memory budget
(docs/benchmarks.md) has no room for a charting stack it does not use.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DPI = 100
MIN_SIDE_PX = 100
MAX_SIDE_PX = 4000
# Slack's image block takes alt text up to 2,000 characters.
MAX_ALT_TEXT = 2000
MAX_LABEL = 40
MAX_SERIES = 8
MAX_POINTS = 520
# Beyond this a figure is a bug or an attack, not usage; plotting clamps it so axis limits stay
# finite (matplotlib refuses infinite limits). Alt text still states the real value.
PLOT_LIMIT = 1e15
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")

Kind = Literal["line", "bar"]


@dataclass(frozen=True, slots=True)
class Series:
    """One line (or one set of bars): a label and a value per x position; None = not reported."""

    label: str
    values: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class Panel:
    """One set of axes: a title, the y axis' unit, its series, drawn as lines or grouped bars."""

    title: str
    y_label: str
    series: tuple[Series, ...]
    kind: Kind = "line"


@dataclass(frozen=True, slots=True)
class Chart:
    """Panels stacked vertically, sharing the x labels (week labels such as `2026-W46`)."""

    title: str
    panels: tuple[Panel, ...]
    x_labels: tuple[str, ...] = field(default=())


# Bumped when a chart's drawing changes, so a file drawn the old way is not taken as current.
FINGERPRINT_VERSION = 1


def chart_fingerprint(chart: Chart) -> str:
    """32 hex characters of sha256 over a canonical JSON of the chart: the same in every
    process and Python run (unlike `hash`), so replicas can tell an uploaded file shows it.
    Equal charts share one (0.0 and -0.0, 1 and 1.0 alike), as the in-memory maps key them."""
    encoded = json.dumps(
        [
            FINGERPRINT_VERSION,
            chart.title,
            list(chart.x_labels),
            [
                [
                    p.title,
                    p.y_label,
                    p.kind,
                    [[s.label, [_canonical(v) for v in s.values]] for s in p.series],
                ]
                for p in chart.panels
            ],
        ],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()[:32]


def _canonical(value: float | None) -> float | None:
    # NaN is never equal to itself, so a chart holding one is never reused anyway.
    return None if value is None else float(value) + 0.0


def render_png(chart: Chart, width_px: int = 800, height_px: int = 700) -> bytes:
    """The chart as a PNG of exactly `width_px` x `height_px` (each clamped to 100..4000)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width = _clamp_side(width_px)
    height = _clamp_side(height_px)
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    figure.suptitle(
        _safe(chart.title, 80), x=0.5, y=0.985, fontsize=12, fontweight="bold", parse_math=False
    )
    count = _point_count(chart)
    x_labels = _x_labels(chart, count)
    panels = chart.panels
    if not panels:
        figure.text(0.5, 0.5, "No data yet", ha="center", va="center", fontsize=11, color="#555")
    else:
        top = 1 - 42 / height
        bottom = 34 / height
        hspace = 0.4 if len(panels) > 1 else 0.2
        figure.subplots_adjust(left=0.1, right=0.97, top=top, bottom=bottom, hspace=hspace)
        axes_list = figure.subplots(len(panels), 1, squeeze=False)[:, 0]
        for axes, panel in zip(axes_list, panels, strict=True):
            _draw_panel(axes, panel, count)
            axes.set_xticks([])  # only the bottom panel names the weeks: fewer ticks to draw
        _label_x(axes_list[-1], x_labels)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A glyph missing from the font (an emoji in a tool's name) is drawn as a box, not fatal.
        warnings.simplefilter("ignore", UserWarning)
        canvas.print_png(buffer)
    return buffer.getvalue()


def alt_text(chart: Chart) -> str:
    """Plain words for what the chart shows: per panel and series, the latest weeks and peak."""
    count = _point_count(chart)
    labels = _x_labels(chart, count)
    parts = [_plain(chart.title, 80) or "Chart"]
    if count:
        parts.append(
            f"{count} weeks, {labels[0]} to {labels[-1]}." if count > 1 else f"Week {labels[0]}."
        )
    if not chart.panels:
        parts.append("No data yet.")
    for panel in chart.panels:
        unit = _plain(panel.y_label, MAX_LABEL)
        head = _plain(panel.title, MAX_LABEL) + (f" ({unit})" if unit else "")
        if not panel.series:
            parts.append(f"{head}: no data yet.")
            continue
        described = [_describe(series, unit) for series in panel.series[:MAX_SERIES]]
        hidden = len(panel.series) - MAX_SERIES
        if hidden > 0:
            described.append(f"and {hidden} more")
        parts.append(f"{head}: " + "; ".join(described) + ".")
    text = " ".join(parts)
    return text if len(text) <= MAX_ALT_TEXT else text[: MAX_ALT_TEXT - 1] + "…"


def compact_number(value: float) -> str:
    """A short tick or alt-text label: 950, 1.2k, 3.4M, 5B, 1.2T; scientific past that."""
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1e15:
        return f"{value:.1e}"
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.1f}".removesuffix(".0") + suffix
    if magnitude == 0 or magnitude >= 1:
        return f"{value:.1f}".removesuffix(".0")
    if magnitude >= 0.01:
        return f"{value:.2f}"
    return f"{value:.1e}"


def _describe(series: Series, unit: str) -> str:
    label = _plain(series.label, MAX_LABEL) or "unnamed"
    values = [v for v in series.values[-MAX_POINTS:]]
    if not values or all(_finite(v) is None for v in values):
        return f"{label} not reported"
    latest = _finite(values[-1])
    previous = _finite(values[-2]) if len(values) > 1 else None
    peak = max(v for v in (_finite(x) for x in values) if v is not None)
    suffix = unit if unit == "%" else (f" {unit}" if unit else "")
    said = (
        f"{label} {compact_number(latest)}{suffix} latest"
        if latest is not None
        else (f"{label} not reported latest")
    )
    if previous is not None:
        said += f", {compact_number(previous)} the week before"
    if len(values) > 2:
        said += f", peak {compact_number(peak)}"
    return said


def _draw_panel(axes, panel: Panel, count: int) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axes.set_title(_safe(panel.title, 60), loc="left", fontsize=10, pad=4, y=1.0, parse_math=False)
    axes.set_ylabel(_safe(panel.y_label, 24), fontsize=8, parse_math=False)
    axes.yaxis.set_major_locator(MaxNLocator(3))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: compact_number(value)))
    axes.tick_params(labelsize=8)
    axes.grid(axis="y", color="#ddd", linewidth=0.6)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    series = panel.series[:MAX_SERIES]
    plotted = [_plot_values(s.values, count) for s in series]
    if not series or count == 0:
        axes.text(
            0.5,
            0.5,
            "No data yet",
            ha="center",
            va="center",
            transform=axes.transAxes,
            fontsize=9,
            color="#555",
        )
    xs = range(count)
    width = 0.8 / max(len(series), 1)
    for index, (one, values) in enumerate(zip(series, plotted, strict=True)):
        colour = COLOURS[index % len(COLOURS)]
        label = _safe(one.label, MAX_LABEL) or "unnamed"
        if panel.kind == "bar":
            offset = (index - (len(series) - 1) / 2) * width
            heights = [0.0 if math.isnan(v) else v for v in values]
            axes.bar([x + offset for x in xs], heights, width=width, color=colour, label=label)
        else:
            axes.plot(
                xs, values, color=colour, linewidth=1.6, marker="o", markersize=2.5, label=label
            )
    low, high = _limits(plotted)
    axes.set_ylim(low, high)
    axes.set_xlim(-0.6, max(count, 1) - 0.4)
    if len(series) > 1 or (series and panel.kind == "line"):
        legend = axes.legend(
            loc="upper left",
            fontsize=7,
            ncol=min(len(series), 4),
            frameon=False,
            handlelength=1.2,
            borderaxespad=0.1,
        )
        for text in legend.get_texts():
            text.set_parse_math(False)  # a tool named "$x" must not start mathtext


def _label_x(axes, labels: Sequence[str]) -> None:
    if not labels:
        axes.set_xticks([])
        return
    step = max(1, math.ceil(len(labels) / 6))
    positions = list(range(len(labels) - 1, -1, -step))[::-1]  # always label the latest week
    axes.set_xticks(positions, [labels[p] for p in positions], fontsize=8, parse_math=False)


def _limits(plotted: Sequence[Sequence[float]]) -> tuple[float, float]:
    finite = [v for values in plotted for v in values if not math.isnan(v)]
    low = min([0.0, *finite])
    high = max([0.0, *finite])
    if high - low < 1e-9:
        return (low, low + 1.0)
    # Headroom for the legend drawn in the upper left.
    return (low * 1.05 if low < 0 else 0.0, high + (high - low) * 0.25)


def _plot_values(values: Sequence[float | None], count: int) -> list[float]:
    """Exactly `count` finite floats (NaN where not reported), clamped to `PLOT_LIMIT`."""
    tail = list(values[-count:]) if count else []
    padded = [None] * (count - len(tail)) + tail
    out: list[float] = []
    for value in padded:
        number = _finite(value)
        out.append(math.nan if number is None else max(-PLOT_LIMIT, min(PLOT_LIMIT, number)))
    return out


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _clamp_side(pixels: int) -> int:
    return max(MIN_SIDE_PX, min(MAX_SIDE_PX, int(pixels)))


def _point_count(chart: Chart) -> int:
    if chart.x_labels:
        return min(len(chart.x_labels), MAX_POINTS)
    longest = max((len(s.values) for p in chart.panels for s in p.series), default=0)
    return min(longest, MAX_POINTS)


def _x_labels(chart: Chart, count: int) -> list[str]:
    given = list(chart.x_labels[-count:]) if count else []
    if len(given) < count:
        given = [str(i + 1) for i in range(count)]
    return [_safe(label, 12) for label in given]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _plain(text: str, limit: int) -> str:
    """One line of at most `limit` characters, control characters removed."""
    flat = " ".join(_CONTROL.sub(" ", str(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _safe(text: str, limit: int) -> str:
    """One line for matplotlib; every Text it goes into sets `parse_math=False`."""
    return _plain(text, limit)

"""Inline SVG charts drawn on the server from the report document: no script, no request.

Each function takes plain series from the JSON document and returns one ``<svg>`` element
as text; the HTML template places it as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7d8c", "#57606a")
W, H = 640, 250
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 52
PAD = 30  # keeps the first and last points and labels inside the frame


def _frame(title: str, y_max: float, y_unit: str, ticks: int = 4, extra: int = 0) -> list[str]:
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {W} {H + extra}" xmlns="http://www.w3.org/2000/svg"'
        f' preserveAspectRatio="xMidYMid meet"><title>{escape(title)}</title>',
        f'<rect x="0" y="0" width="{W}" height="{H + extra}" fill="#fff"/>',
    ]
    for i in range(ticks + 1):
        value = y_max * i / ticks
        y = _y(value, y_max)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"'
                     ' stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end"'
                     f' fill="#57606a">{value:g}{escape(y_unit)}</text>')
    return parts


def _y(value: float, y_max: float) -> float:
    return TOP + (H - TOP - BOTTOM) * (1 - (value / y_max if y_max else 0))


def _x(pos: float) -> float:
    return LEFT + PAD + (W - LEFT - RIGHT - 2 * PAD) * pos


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
               y_max: float = 100.0, y_unit: str = "") -> str:
    """A line chart: x positions in [0, 1], labels spread evenly along the x axis."""
    legend_rows = (len(series) + 3) // 4 if len(series) > 1 else 0
    parts = _frame(title, y_max, y_unit, extra=max(0, legend_rows - 1) * 16)
    n = len(x_labels)
    for i, label in enumerate(x_labels):
        x = _x(i / (n - 1) if n > 1 else 0.5)
        parts.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" font-size="11" text-anchor="middle"'
                     f' fill="#57606a">{escape(label)}</text>')
    for k, (name, points) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        coords = " ".join(f"{_x(px):.1f},{_y(py, y_max):.1f}" for px, py in points)
        if len(points) > 1:
            parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2"'
                         f' points="{coords}"><title>{escape(name)}</title></polyline>')
        for px, py in points:
            parts.append(f'<circle cx="{_x(px):.1f}" cy="{_y(py, y_max):.1f}" r="3" fill="{color}">'
                         f'<title>{escape(name)}: {py:g}{escape(y_unit)}</title></circle>')
    if len(series) > 1:
        for k, (name, _points) in enumerate(series):
            x = LEFT + (k % 4) * 150
            y = H - 8 + (k // 4) * 16
            parts.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>'
                         f'<text x="{x + 14}" y="{y}" font-size="11">{escape(name[:20])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              y_unit: str = "") -> str:
    """A grouped bar chart: one group per x label, one bar per series."""
    y_max = max([v for _n, values in series for v in values] + [1.0])
    y_max = float(_nice(y_max))
    parts = _frame(title, y_max, y_unit)
    n = max(len(x_labels), 1)
    group_w = (W - LEFT - RIGHT) / n
    bar_w = group_w * 0.8 / max(len(series), 1)
    for i, label in enumerate(x_labels):
        gx = LEFT + i * group_w
        parts.append(f'<text x="{gx + group_w / 2:.1f}" y="{H - BOTTOM + 16}" font-size="11"'
                     f' text-anchor="middle" fill="#57606a">{escape(label)}</text>')
        for k, (name, values) in enumerate(series):
            value = values[i]
            y = _y(value, y_max)
            parts.append(f'<rect class="bar" x="{gx + group_w * 0.1 + k * bar_w:.1f}" y="{y:.1f}"'
                         f' width="{bar_w:.1f}" height="{H - BOTTOM - y:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                         f'<title>{escape(name)} {escape(label)}: {value:g}</title></rect>')
    for k, (name, _values) in enumerate(series):
        x = LEFT + k * 120
        parts.append(f'<rect x="{x}" y="{H - 17}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{H - 8}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nice(value: float) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000):
        if value <= step * 4:
            return step * 4
    return int(value) + 1


# The outage timeline: one horizontal bar per host, one colour per state of the period.
TIMELINE_COLORS = {"up": "#2da44e", "down": "#cf222e", "planned": "#1f6feb", "unknown": "#d0d7de"}
TL_H, TL_BAR, TL_TOP = 44, 18, 4


def timeline_chart(title: str, pieces: Sequence[tuple[float, float, str, str]],
                   ticks: Sequence[tuple[float, str]]) -> str:
    """An outage timeline: ``pieces`` are ``(x0, x1, state, tooltip)`` with x in [0, 1].

    States are up, down, planned and unknown (:data:`TIMELINE_COLORS`); a down piece is at
    least one unit wide, so that a one-minute outage in a month stays visible. ``ticks`` are
    ``(x, label)`` under the bar.
    """
    left, width = 4, W - 8
    parts = [
        f'<svg class="timeline" role="img" viewBox="0 0 {W} {TL_H}" xmlns="http://www.w3.org/2000/svg"'
        f' preserveAspectRatio="xMidYMid meet"><title>{escape(title)}</title>',
        f'<rect x="{left}" y="{TL_TOP}" width="{width}" height="{TL_BAR}" fill="{TIMELINE_COLORS["unknown"]}"/>',
    ]
    for x0, x1, state, tip in pieces:
        if state == "unknown":
            continue
        w = max((x1 - x0) * width, 1.0 if state == "down" else 0.0)
        parts.append(f'<rect class="tl-{escape(state)}" x="{left + x0 * width:.2f}" y="{TL_TOP}" width="{w:.2f}"'
                     f' height="{TL_BAR}" fill="{TIMELINE_COLORS.get(state, "#57606a")}">'
                     f'<title>{escape(tip)}</title></rect>')
    for x, label in ticks:
        px = left + x * width
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TL_TOP + TL_BAR}" y2="{TL_TOP + TL_BAR + 4}"'
                     ' stroke="#57606a" stroke-width="1"/>')
        parts.append(f'<text x="{px:.1f}" y="{TL_H - 4}" font-size="10" text-anchor="middle"'
                     f' fill="#57606a">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# Month over month: one value per month, None for a month without data (shown as such, never as zero).
def _plain(value: float) -> str:
    return f"{round(value, 1):g}"


def month_line_chart(title: str, months: Sequence[str], values: Sequence[float | None], no_data: str,
                     y_max: float = 100.0, y_unit: str = "", y_min: float = 0.0,
                     fmt: Callable[[float], str] = _plain) -> str:
    """A line over the months that have a value; the line breaks at a month without data, labelled ``no_data``.

    ``fmt`` writes a value's label (the report passes the locale's number format).
    """
    parts = _frame(title, y_max, y_unit) if not y_min else _frame_from(title, y_min, y_max, y_unit)
    n = len(months)
    pos = [i / (n - 1) if n > 1 else 0.5 for i in range(n)]
    for i, label in enumerate(months):
        parts.append(f'<text x="{_x(pos[i]):.1f}" y="{H - BOTTOM + 16}" font-size="11" text-anchor="middle"'
                     f' fill="#57606a">{escape(label)}</text>')
    runs: list[list[tuple[float, float]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
            parts.append(f'<text class="no-data" x="{_x(pos[i]):.1f}" y="{H - BOTTOM - 6}" font-size="10"'
                         f' text-anchor="middle" fill="#8c959f">{escape(no_data)}</text>')
            continue
        runs[-1].append((pos[i], _scaled(value, y_min, y_max)))
    color = PALETTE[0]
    for run in runs:
        if len(run) > 1:
            coords = " ".join(f"{_x(px):.1f},{_y(py, y_max):.1f}" for px, py in run)
            parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
    for i, value in enumerate(values):
        if value is None:
            continue
        py = _scaled(value, y_min, y_max)
        parts.append(f'<circle cx="{_x(pos[i]):.1f}" cy="{_y(py, y_max):.1f}" r="3.5" fill="{color}">'
                     f'<title>{escape(months[i])}: {escape(fmt(value))}{escape(y_unit)}</title></circle>'
                     f'<text x="{_x(pos[i]):.1f}" y="{_y(py, y_max) - 7:.1f}" font-size="11" text-anchor="middle"'
                     f' fill="#1f2328">{escape(fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _scaled(value: float, y_min: float, y_max: float) -> float:
    """A value on an axis from ``y_min`` to ``y_max``, in the frame's 0..y_max units (clamped)."""
    return max(0.0, (value - y_min) / (y_max - y_min) * y_max) if y_min else value


def _frame_from(title: str, y_min: float, y_max: float, y_unit: str, ticks: int = 4) -> list[str]:
    """The frame of a chart whose y axis starts at ``y_min`` (availability: 95-100 %)."""
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg"'
        f' preserveAspectRatio="xMidYMid meet"><title>{escape(title)}</title>',
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>',
    ]
    for i in range(ticks + 1):
        y = _y(y_max * i / ticks, y_max)
        label = y_min + (y_max - y_min) * i / ticks
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"'
                     ' stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end"'
                     f' fill="#57606a">{label:g}{escape(y_unit)}</text>')
    return parts


def month_bar_chart(title: str, months: Sequence[str], values: Sequence[float | None], no_data: str,
                    fmt: Callable[[float], str] = _plain) -> str:
    """One bar per month (a count); a month without data is labelled ``no_data``, not drawn as zero."""
    y_max = float(_nice(max([v for v in values if v is not None] + [1.0])))
    parts = _frame(title, y_max, "")
    n = max(len(months), 1)
    group_w = (W - LEFT - RIGHT) / n
    for i, label in enumerate(months):
        cx = LEFT + i * group_w + group_w / 2
        parts.append(f'<text x="{cx:.1f}" y="{H - BOTTOM + 16}" font-size="11" text-anchor="middle"'
                     f' fill="#57606a">{escape(label)}</text>')
        value = values[i]
        if value is None:
            parts.append(f'<text class="no-data" x="{cx:.1f}" y="{H - BOTTOM - 6}" font-size="10" text-anchor="middle"'
                         f' fill="#8c959f">{escape(no_data)}</text>')
            continue
        y = _y(value, y_max)
        parts.append(f'<rect class="bar" x="{cx - group_w * 0.3:.1f}" y="{y:.1f}" width="{group_w * 0.6:.1f}"'
                     f' height="{H - BOTTOM - y:.1f}" fill="{PALETTE[0]}">'
                     f'<title>{escape(label)}: {escape(fmt(value))}</title></rect>'
                     f'<text x="{cx:.1f}" y="{y - 4:.1f}" font-size="11" text-anchor="middle"'
                     f' fill="#1f2328">{escape(fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)

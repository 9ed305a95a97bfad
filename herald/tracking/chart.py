"""The campaign timeline as an SVG picture: messages sent, people who opened and who clicked, per
hour. Drawn on the server (no chart library, nothing from a CDN); pure: numbers in, markup out.

Sent messages are bars against the left axis; opens and clicks are lines against the right axis
(they are usually a small fraction of the sends and would be flat on the same scale). Every bar
and point carries a ``<title>``, which browsers show on hover and screen readers read.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.formats import date_format

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 56, 16, 40
COLORS = {"sent": "#9db4d3", "opened": "#1f7a4d", "clicked": "#c05621"}


@dataclass(frozen=True)
class Point:
    hour: dt.datetime  # the start of the hour, aware
    sent: int = 0
    opened: int = 0
    clicked: int = 0


def nice_ceiling(value: float) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 times a power of ten)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return int(step * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def fill_hours(points: Sequence[Point], *, limit: int = 24 * 14) -> list[Point]:
    """One point per hour from the first to the last (empty hours as zeros), the last
    ``limit`` hours at most, so that the time axis is linear."""
    if not points:
        return []
    by_hour = {p.hour: p for p in points}
    start, end = min(by_hour), max(by_hour)
    hours = int((end - start).total_seconds() // 3600) + 1
    first = max(0, hours - limit)
    return [
        by_hour.get(hour, Point(hour))
        for hour in (start + dt.timedelta(hours=h) for h in range(first, hours))
    ]


def _label(hour: dt.datetime, tz: dt.tzinfo) -> str:
    local = hour.astimezone(tz)
    return date_format(local, "d M H:00")  # month names in the page's language


def timeline_svg(
    points: Sequence[Point], *, tz: dt.tzinfo = dt.UTC, labels: dict[str, str] | None = None
) -> str:
    """The chart as an ``<svg>`` element (safe to put in a page: every text is escaped)."""
    names = {"sent": "sent", "opened": "opened", "clicked": "clicked", "empty": "no data yet"}
    names.update(labels or {})
    series = fill_hours(points)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    label = escape(f"{names['sent']}, {names['opened']}, {names['clicked']}")
    opening = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="timeline" '
        f'role="img" aria-label="{label}">'
    )
    parts = [opening]
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ddd"/>'
    )
    if not series:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#777">'
            f"{escape(names['empty'])}</text></svg>"
        )
        return "".join(parts)
    sent_max = nice_ceiling(max(p.sent for p in series))
    people_max = nice_ceiling(max(max(p.opened, p.clicked) for p in series))
    n = len(series)
    slot = plot_w / n
    bar = max(1.0, slot * 0.8)

    def y_of(value: int, top: int) -> float:
        return TOP + plot_h - plot_h * value / top

    for fraction in (0, 0.5, 1):  # gridlines and both axes' labels
        y = TOP + plot_h - plot_h * fraction
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{COLORS["sent"]}">{round(sent_max * fraction)}</text>'
            f'<text x="{LEFT + plot_w + 6}" y="{y + 4:.1f}" font-size="11" '
            f'fill="{COLORS["opened"]}">{round(people_max * fraction)}</text>'
        )
    for i, p in enumerate(series):
        x = LEFT + i * slot + (slot - bar) / 2
        y = y_of(p.sent, sent_max)
        title = f"{_label(p.hour, tz)}: {p.sent} {names['sent']}"
        parts.append(
            f'<rect class="sent" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
            f'height="{TOP + plot_h - y:.1f}" fill="{COLORS["sent"]}">'
            f"<title>{escape(title)}</title></rect>"
        )
    for key in ("opened", "clicked"):
        coords = [
            (LEFT + (i + 0.5) * slot, y_of(getattr(p, key), people_max))
            for i, p in enumerate(series)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(
            f'<polyline class="{key}" points="{path}" fill="none" stroke="{COLORS[key]}" '
            'stroke-width="2"/>'
        )
        for (x, y), p in zip(coords, series, strict=True):
            title = f"{_label(p.hour, tz)}: {getattr(p, key)} {names[key]}"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{COLORS[key]}">'
                f"<title>{escape(title)}</title></circle>"
            )
    step = max(1, math.ceil(n / 8))  # at most 8 time labels
    for i in range(0, n, step):
        x = LEFT + (i + 0.5) * slot
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11" '
            f'fill="#555">{escape(_label(series[i].hour, tz))}</text>'
        )
    legend_x = LEFT
    for key in ("sent", "opened", "clicked"):
        parts.append(
            f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="10" height="10" '
            f'fill="{COLORS[key]}"/><text x="{legend_x + 14}" y="{HEIGHT - 5}" font-size="11" '
            f'fill="#333">{escape(names[key])}</text>'
        )
        legend_x += 24 + 7 * len(names[key])
    parts.append("</svg>")
    return "".join(parts)

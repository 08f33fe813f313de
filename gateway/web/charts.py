"""Charts as inline SVG, drawn on the server: readable with no JavaScript at all.

Colours and fonts are presentation attributes, not CSS: the app's
Content-Security-Policy allows no inline style, which is why a charting
library that styles its SVG with a ``<style>`` element (pygal) would draw
black shapes here. Every chart has a ``<title>`` and the page shows its
numbers as a table too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#d97706", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 150, 28, 34


def _frame(title: str, body: list[str], y_max: float, y_label) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold" fill="#1d2329">{escape(title)}</text>',
    ]
    for i in range(5):  # four steps of the y axis
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e0"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{escape(y_label(value))}</text>'
        )
    return Markup("".join(parts + body + ["</svg>"]))


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    for i, name in enumerate(names):
        y = TOP + 14 * i
        out.append(
            f'<rect x="{WIDTH - RIGHT + 12}" y="{y}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{WIDTH - RIGHT + 27}" y="{y + 9}" fill="#1d2329">{escape(name)}</text>'
        )
    return out


def _x_labels(labels: Sequence[str], x_of) -> list[str]:
    step = max(1, len(labels) // 12)  # at most about twelve labels under the axis
    return [
        f'<text x="{x_of(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="#555">{escape(label)}</text>'
        for i, label in enumerate(labels)
        if i % step == 0
    ]


def stacked_bars(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]]
) -> Markup:
    """One bar per label, each series stacked in it."""
    totals = [sum(s[i] for s in series.values()) for i in range(len(labels))]
    y_max = 4 * math.ceil(max([4, *totals]) / 4)  # a multiple of four: whole steps on the axis
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    bar = slot * 0.7
    body = []
    for i in range(len(labels)):
        base = 0.0
        for j, (name, values) in enumerate(series.items()):
            n = values[i]
            if not n:
                continue
            h = plot_h * n / y_max
            y = TOP + plot_h - plot_h * base / y_max - h
            body.append(
                f'<rect x="{LEFT + slot * i + (slot - bar) / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(labels[i])}, '
                f"{escape(name)}: {n:g}</title></rect>"
            )
            base += n
    body += _x_labels(labels, lambda i: LEFT + slot * i + slot / 2)
    body += _legend(list(series))
    return _frame(title, body, y_max, lambda v: f"{v:g}")


def lines(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]]
) -> Markup:
    """One line per series over the labels; values from 0 to 1 (None: no point)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)

    def x_of(i: int) -> float:
        return LEFT + step * i if len(labels) > 1 else LEFT + plot_w / 2

    body = []
    for j, (name, values) in enumerate(series.items()):
        colour = PALETTE[j % len(PALETTE)]
        points = [(x_of(i), TOP + plot_h * (1 - v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for (x, y), v in zip(points, [v for v in values if v is not None], strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)}: '
                f"{v:.2f}</title></circle>"
            )
    body += _x_labels(labels, x_of)
    body += _legend(list(series))
    return _frame(title, body, 1.0, lambda v: f"{v:.2f}")

"""Bar charts as server-side SVG: pure functions from labelled series to an SVG string.

No JavaScript and no library: the overview stays readable with scripts off and weighs a
few kilobytes. Every text is escaped here (a label may be a channel name). Each chart is
an image to assistive technology (`role="img"`, labelled by its <title> and <desc>), the
<desc> says every value in words, and each bar carries its own <title> (a tooltip) and
`data-value` (what tests and tools read). A chart whose series hold no value at all says
so instead of drawing empty axes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 44  # room for the axis labels and the legend
# distinguishable for the common colour blindnesses (Okabe-Ito), at least 3:1 on white
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7")


@dataclass(frozen=True, kw_only=True)
class Series:
    label: str
    values: tuple[float | None, ...]  # one per bucket; None: nothing to compute it from


def shown(value: float | None, percent: bool) -> str:
    """A value as the chart writes it: a percentage, a whole number, or one decimal."""
    if value is None:
        return "n/a"
    if percent:
        return f"{value:.0%}"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def _top(highest: float, percent: bool) -> float:
    """The axis' top: 100% for percentages, else a round number at or above the highest bar."""
    if percent:
        return 1.0
    if highest <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(highest))
    for step in (1, 2, 2.5, 5, 10):
        if highest <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def bar_chart(
    *,
    ident: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    empty: str,
    percent: bool = False,
) -> Markup:
    """A grouped bar chart: one group per label, one bar per series. `ident` makes the ids
    of its <title> and <desc> unique on the page; `empty` is what it says without data."""
    title_id, desc_id = f"{ident}-title", f"{ident}-desc"
    present = [v for s in series for v in s.values if v is not None]
    drawn = any(present)  # all zero or n/a: nothing to draw, and the chart says so
    words = "; ".join(
        f"{s.label}: "
        + ", ".join(f"{label} {shown(v, percent)}" for label, v in zip(labels, s.values, strict=True))
        for s in series
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" data-chart={quoteattr(ident)}>',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(words if drawn else empty)}</desc>',
    ]
    if not drawn or not labels:
        parts.append(
            f'<text x="{WIDTH / 2:g}" y="{HEIGHT / 2:g}" text-anchor="middle" class="empty">{escape(empty)}</text>'
        )
        parts.append("</svg>")
        return Markup("".join(parts))  # every text in it went through escape()
    top = _top(max(present), percent)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    parts.append('<g class="axis" aria-hidden="true">')
    for fraction in (0.0, 0.5, 1.0):
        y = base - fraction * plot_h
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:g}" y2="{y:g}"/>')
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 4:g}" text-anchor="end">{escape(shown(top * fraction, percent))}</text>'
        )
    parts.append("</g>")
    group_w = plot_w / len(labels)
    bar_w = group_w * 0.8 / len(series)
    every = max(1, math.ceil(len(labels) / 12))  # at most a dozen labels under the axis
    for i, label in enumerate(labels):
        x0 = LEFT + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            h = max(0.0, value / top * plot_h)
            parts.append(
                f'<rect x="{x0 + j * bar_w:.1f}" y="{base - h:.1f}" width="{bar_w * 0.9:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[j % len(COLOURS)]}" '
                f'data-series={quoteattr(s.label)} data-label={quoteattr(label)} data-value="{value:g}">'
                f"<title>{escape(f'{s.label}, {label}: {shown(value, percent)}')}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x0 + group_w * 0.4:.1f}" y="{base + 16}" text-anchor="middle" '
                f'aria-hidden="true">{escape(label)}</text>'
            )
    if len(series) > 1:
        for j, s in enumerate(series):
            x = LEFT + j * 140
            parts.append(
                f'<g aria-hidden="true"><rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" '
                f'fill="{COLOURS[j % len(COLOURS)]}"/><text x="{x + 14}" y="{HEIGHT - 5}">{escape(s.label)}</text></g>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # every text in it went through escape() or quoteattr()

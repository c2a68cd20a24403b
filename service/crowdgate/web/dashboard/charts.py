"""Server-side SVG charts: titled, with labelled axes and ticks; no script, no inline style.

Every function returns markup safe to place in a template. Colours are SVG presentation
attributes, which a ``style-src 'self'`` Content-Security-Policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 34, 58
BAR, LINE, GRID, INK = "#3b6fb6", "#c0392b", "#d9dde3", "#222"


def _nice_max(value: float) -> float:
    """Return a round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    scale = 10 ** len(str(int(value))) / 10 if value >= 1 else 1.0
    for step in (1, 2, 5, 10):
        if value <= step * scale:
            return float(step * scale)
    return float(10 * scale)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def _frame(title: str, x_label: str, y_label: str, y_max: float, body: list[str]) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="15" '
        f'font-weight="bold" fill="{INK}">{escape(title)}</text>',
    ]
    for k in range(5):
        value = y_max * k / 4
        y = TOP + plot_h - plot_h * k / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{INK}">{_fmt(value)}</text>'
        )
    parts += body
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="{INK}"/><line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" '
        f'stroke="{INK}"/>'
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">{escape(x_label)}</text>'
        f'<text transform="translate(14 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle" '
        f'font-size="12" fill="{INK}">{escape(y_label)}</text></svg>'
    )
    return Markup("".join(parts))


def _empty(title: str, message: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} 90" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold" '
        f'fill="{INK}">{escape(title)}</text><text x="{WIDTH / 2}" y="58" text-anchor="middle" '
        f'font-size="13" fill="#666">{escape(message)}</text></svg>'
    )


def bar_chart(
    title: str,
    categories: Sequence[str],
    values: Sequence[float],
    x_label: str,
    y_label: str,
    *,
    empty: str = "No data yet.",
) -> Markup:
    """Return a vertical bar chart of ``values`` (one bar per category, labelled below)."""
    if not categories or not any(values):
        return _empty(title, empty)
    y_max = _nice_max(max(values))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(categories)
    every = max(1, len(categories) // 12)  # keep tick labels from overlapping
    body = []
    for k, (name, value) in enumerate(zip(categories, values, strict=True)):
        h = plot_h * value / y_max
        x = LEFT + k * slot + slot * 0.15
        body.append(
            f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{BAR}"><title>{escape(name)}: {_fmt(value)}</title></rect>'
        )
        if k % every == 0:
            body.append(
                f'<text x="{LEFT + (k + 0.5) * slot:.1f}" y="{TOP + plot_h + 16}" '
                f'text-anchor="middle" font-size="11" fill="{INK}">{escape(name)}</text>'
            )
    return _frame(title, x_label, y_label, y_max, body)


def line_chart(
    title: str,
    xs: Sequence[str],
    ys: Sequence[float],
    x_label: str,
    y_label: str,
    *,
    y_max: float | None = None,
    empty: str = "No data yet.",
) -> Markup:
    """Return a line chart with a marker per point and category labels on the x axis."""
    if not xs:
        return _empty(title, empty)
    top = y_max if y_max is not None else _nice_max(max(ys))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    pad = 32  # keeps the first and last tick labels inside the frame
    step = (plot_w - 2 * pad) / max(1, len(xs) - 1)
    points = [
        (LEFT + (pad + k * step if len(xs) > 1 else plot_w / 2), TOP + plot_h - plot_h * y / top)
        for k, y in enumerate(ys)
    ]
    every = max(1, len(xs) // 8)
    body = [
        f'<polyline fill="none" stroke="{LINE}" stroke-width="2" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        + '"/>'
    ]
    for k, ((x, y), name, value) in enumerate(zip(points, xs, ys, strict=True)):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{LINE}">'
            f"<title>{escape(name)}: {_fmt(value)}</title></circle>"
        )
        if k % every == 0 or k == len(xs) - 1:
            body.append(
                f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" '
                f'font-size="11" fill="{INK}">{escape(name)}</text>'
            )
    return _frame(title, x_label, y_label, top, body)


def histogram(
    title: str,
    values: Sequence[float] | Sequence[int],
    lo: float,
    hi: float,
    bins: int,
    x_label: str,
    y_label: str = "items",
    *,
    counts: Sequence[int] | None = None,
) -> Markup:
    """Return a histogram of ``values`` over ``[lo, hi]`` (or of precomputed bin ``counts``)."""
    if counts is None:
        counts = [0] * bins
        for v in values:
            k = min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins)))
            counts[k] += 1
    edges = [lo + (hi - lo) * k / bins for k in range(bins)]
    return bar_chart(title, [f"{e:.2f}" for e in edges], list(counts), x_label, y_label)

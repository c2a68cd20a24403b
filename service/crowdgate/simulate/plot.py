"""A dependency-free line chart (Pillow's ImageDraw) for benchmark results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
WIDTH, HEIGHT, MARGIN = 720, 440, 60


def line_chart(
    path: Path,
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Draw ``{name: (xs, ys)}`` as coloured lines with axes, ticks and a legend; save a PNG."""
    xs = [x for xs_, _ in series.values() for x in xs_]
    ys = [y for _, ys_ in series.values() for y in ys_]
    x0, x1 = min(xs, default=0.0), max(xs, default=1.0)
    y0, y1 = ylim or (min(ys, default=0.0), max(ys, default=1.0))
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = MARGIN + 10, WIDTH - 20, 40, HEIGHT - MARGIN

    def at(x: float, y: float) -> tuple[float, float]:
        return (
            left + (x - x0) / (x1 - x0) * (right - left),
            bottom - (y - y0) / (y1 - y0) * (bottom - top),
        )

    draw.rectangle((left, top, right, bottom), outline="black")
    for k in range(6):
        tx, ty = x0 + (x1 - x0) * k / 5, y0 + (y1 - y0) * k / 5
        px, _ = at(tx, y0)
        _, py = at(x0, ty)
        draw.line((px, bottom, px, bottom + 4), fill="black")
        draw.text((px - 12, bottom + 6), f"{tx:.0f}", fill="black")
        draw.line((left - 4, py, left, py), fill="black")
        draw.line((left, py, right, py), fill="#e5e5e5")
        draw.text((4, py - 6), f"{ty:.3f}", fill="black")
    draw.text((left, 12), title, fill="black")
    draw.text(((left + right) // 2 - 40, HEIGHT - 22), xlabel, fill="black")
    draw.text((4, top - 18), ylabel, fill="black")
    for n, (name, (sx, sy)) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = [at(x, y) for x, y in zip(sx, sy, strict=True)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points:
            draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=colour)
        draw.line(
            (right - 170, bottom - 20 - 16 * n, right - 150, bottom - 20 - 16 * n),
            fill=colour,
            width=3,
        )
        draw.text((right - 145, bottom - 26 - 16 * n), name, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG", optimize=True)
    return path

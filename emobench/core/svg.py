"""The layer-weight figure of a training run as SVG, written without third-party libraries.

Every training run writes one (``layer_weights.svg``); drawing it with matplotlib would cost a
training run about as much CPU time as a warm-cache epoch. The chart: one bar per hidden state
(0 = the input features), a y axis from 0 with a few labelled ticks, the dashed uniform line 1/L
with its legend entry, the axis labels and the title. Text is XML-escaped.
"""

from __future__ import annotations

import math
import numbers
import re
from html import escape
from pathlib import Path
from typing import Sequence

from emobench.core import io

NAMESPACE = "http://www.w3.org/2000/svg"
HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 300, 64, 16, 36, 52  # px: the figure and its margins
HEADROOM = 1.08  # the y axis ends a little above its last tick
BAR_PITCH, MIN_PLOT_WIDTH, CHAR_WIDTH = 35, 260, 7.0  # px per bar; a title character (approx.)
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
# characters XML 1.0 does not allow in a document (a user string could hold them)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """``value`` safe as SVG text or attribute: escaped, characters XML forbids shown as U+FFFD.

    >>> text('a<b & "c"')
    'a&lt;b &amp; &quot;c&quot;'
    >>> text("bell\\x07") == "bell\\ufffd"
    True
    """
    return escape(NOT_XML.sub("\ufffd", value), quote=True)


def checked(weights: Sequence[float], what: str) -> list[float]:
    """``weights`` as floats; ValueError unless there is at least one and every one is a finite
    number in [0, 1].

    >>> checked([0.25, 0.75], "w")
    [0.25, 0.75]
    >>> checked([0.5, float("nan")], "run/layer_weights.svg")
    Traceback (most recent call last):
    ...
    ValueError: run/layer_weights.svg: layer weight 1 is nan, not a finite number in [0, 1]
    """
    values = list(weights)
    if not values:
        raise ValueError(f"{what}: no layer weights to draw")
    out = []
    for i, value in enumerate(values):
        number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) \
            else None
        if number is None or not math.isfinite(number) or not 0.0 <= number <= 1.0:
            raise ValueError(f"{what}: layer weight {i} is {value!r}, not a finite number in "
                             "[0, 1]")
        out.append(number)
    return out


def ticks(top: float) -> tuple[list[float], int]:
    """Axis ticks from 0 up to at least ``top`` (> 0), 2 to 6 of them with a 1/2/5 step, and the
    number of decimals their labels need.

    >>> ticks(1.0)
    ([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], 1)
    >>> ticks(0.3)
    ([0.0, 0.1, 0.2, 0.3], 1)
    >>> ticks(0.04)
    ([0.0, 0.01, 0.02, 0.03, 0.04], 2)
    """
    exponent = math.floor(math.log10(top)) - 1
    while True:
        for mantissa in (1, 2, 5):
            step = mantissa * 10.0 ** exponent
            count = math.ceil(top / step - 1e-9)
            if count <= 5:
                decimals = max(0, -exponent)
                return [round(k * step, decimals) for k in range(count + 1)], decimals
        exponent += 1


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def chart(weights: Sequence[float], title: str, what: str = "layer weights") -> str:
    """The SVG document: bars ``class="bar"`` (one per hidden state, ``data-weight``), the
    uniform line ``class="uniform"``; ``what`` names the figure in errors."""
    values = checked(weights, what)
    n = len(values)
    uniform = 1.0 / n
    grid, decimals = ticks(max(max(values), uniform))
    top = grid[-1] * HEADROOM
    plot_w = max(MIN_PLOT_WIDTH, BAR_PITCH * n)
    width = max(LEFT + plot_w + RIGHT, int(CHAR_WIDTH * len(title)) + 24)
    plot_w = width - LEFT - RIGHT
    x0, y0, plot_h = LEFT, TOP, HEIGHT - TOP - BOTTOM
    base = y0 + plot_h
    pitch = plot_w / n

    def y(value: float) -> float:
        return base - value / top * plot_h

    out = [f'<svg xmlns="{NAMESPACE}" width="{width}" height="{HEIGHT}" '
           f'viewBox="0 0 {width} {HEIGHT}" {FONT} font-size="11">',
           f"<title>{text(title)}</title>",
           f'<rect class="background" x="0" y="0" width="{width}" height="{HEIGHT}" '
           'fill="white"/>']
    for value in grid:  # y ticks, their labels and light grid lines
        at = _fmt(y(value))
        out.append(f'<line x1="{x0 - 4}" y1="{at}" x2="{x0}" y2="{at}" stroke="black"/>'
                   f'<line x1="{x0}" y1="{at}" x2="{x0 + plot_w}" y2="{at}" stroke="#e5e5e5"/>'
                   f'<text x="{x0 - 7}" y="{at}" text-anchor="end" dominant-baseline="middle">'
                   f"{value:.{decimals}f}</text>")
    for i, value in enumerate(values):  # the bars and their tick labels
        left = x0 + pitch * i + pitch * 0.1
        centre = _fmt(x0 + pitch * (i + 0.5))
        out.append(f'<rect class="bar" data-weight="{value!r}" x="{_fmt(left)}" '
                   f'y="{_fmt(y(value))}" width="{_fmt(pitch * 0.8)}" '
                   f'height="{_fmt(base - y(value))}" fill="#1f77b4">'
                   f"<title>hidden state {i}: {value:.4f}</title></rect>"
                   f'<line x1="{centre}" y1="{base}" x2="{centre}" y2="{base + 4}" '
                   'stroke="black"/>'
                   f'<text x="{centre}" y="{base + 16}" text-anchor="middle">{i}</text>')
    at = _fmt(y(uniform))
    out.append(f'<line class="uniform" data-value="{uniform!r}" x1="{x0}" y1="{at}" '
               f'x2="{x0 + plot_w}" y2="{at}" stroke="grey" stroke-dasharray="5,3"/>')
    out.append(f'<path d="M{x0} {y0}V{base}H{x0 + plot_w}" fill="none" stroke="black"/>')
    legend_x, legend_y = x0 + plot_w - 92, y0 + 8  # upper right, inside the axes
    out.append(f'<g class="legend"><rect x="{legend_x}" y="{legend_y}" width="84" height="20" '
               'fill="white" fill-opacity="0.8" stroke="#cccccc"/>'
               f'<line x1="{legend_x + 6}" y1="{legend_y + 10}" x2="{legend_x + 30}" '
               f'y2="{legend_y + 10}" stroke="grey" stroke-dasharray="5,3"/>'
               f'<text x="{legend_x + 36}" y="{legend_y + 10}" dominant-baseline="middle" '
               'font-size="10">uniform</text></g>')
    out.append(f'<text x="{_fmt(x0 + plot_w / 2)}" y="{HEIGHT - 12}" text-anchor="middle">'
               "hidden state (0 = input features)</text>")
    out.append(f'<text x="16" y="{_fmt(y0 + plot_h / 2)}" text-anchor="middle" '
               f'transform="rotate(-90 16 {_fmt(y0 + plot_h / 2)})">softmax weight</text>')
    out.append(f'<text class="title" x="{_fmt(width / 2)}" y="{TOP - 14}" text-anchor="middle" '
               f'font-size="12">{text(title)}</text>')
    return "\n".join(out) + "\n</svg>\n"


def layer_weights(weights: Sequence[float], title: str, path: str | Path) -> Path:
    """Write the bar chart of the normalised featurizer weight of every hidden state to
    ``path`` (atomically); ValueError naming ``path`` for a weight outside [0, 1]."""
    return io.write_text(path, chart(weights, title, str(path)))

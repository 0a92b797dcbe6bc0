"""Charts and the report map drawn on the server as SVG: no script, nothing from outside.

An inline SVG prints as it shows, scales to a phone or an A4 page, and carries a
``<title>`` and ``<desc>`` for screen readers; every bar also has a ``<title>``
(the browser's tooltip) with its exact figure. The numbers themselves are always
in a table next to the chart as well.

All text is escaped here; the functions return :class:`markupsafe.Markup`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape
from shapely.geometry import MultiPolygon, Polygon

WIDTH = 360  # the width of a chart's viewBox; it is drawn at the width of its box
ROW_H, BAR_H = 22, 14
MAX_LABEL_W = 150  # labels longer than this are cut with an ellipsis
FONT = 12
TEXT = "#212529"
AXIS = "#adb5bd"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: no figure (drawn as "—")
    colour: str = "#31a354"
    text: str | None = None  # the figure written at the bar's end; default: the value


def _num(value: float) -> str:
    """A coordinate with at most one decimal, as short as possible."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def text_width(text: str, size: float = FONT) -> float:
    """Roughly how wide `text` is drawn: CJK characters are square, Latin about half."""
    return sum(size if ord(ch) >= 0x2E80 else 0.62 * size for ch in text)


def fit(text: str, width: float, size: float = FONT) -> str:
    """`text`, cut with an ellipsis so that it fits in `width`."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _svg(chart_id: str, title: str, description: str, width: float, height: float,
         body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="gx-chart" id="{escape(chart_id)}"'
            f' viewBox="0 0 {_num(width)} {_num(height)}" width="100%" role="img"'
            f' aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc"'
            f' font-size="{FONT}" fill="{TEXT}">'
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
            f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>')
    return Markup(head + "".join(body) + "</svg>")


def bar_chart(chart_id: str, bars: Sequence[Bar], *, title: str, description: str,
              maximum: float | None = None,
              value_text: Callable[[float], str] = lambda v: f"{v:.0f}") -> Markup:
    """Horizontal bars, one row each: label, bar, figure.

    Parameters
    ----------
    maximum : float
        The value of a full-width bar (100 for percentages); default the largest value.
    """
    values = [b.value for b in bars if b.value is not None]
    top = maximum if maximum is not None else max(values, default=0) or 1
    texts = [bar.text if bar.text is not None else _value(bar, value_text) for bar in bars]
    label_w = min(MAX_LABEL_W, max((text_width(b.label) for b in bars), default=0) + 2)
    x0 = label_w + 8
    x1 = WIDTH - max((text_width(t) for t in texts), default=0) - 8
    body = []
    for i, (bar, text) in enumerate(zip(bars, texts, strict=True)):
        y = 4 + i * ROW_H
        middle = y + BAR_H / 2 + FONT * 0.35
        label = fit(bar.label, label_w)
        body.append(f'<g class="gx-bar"><title>{escape(bar.label)}: {escape(text)}</title>')
        body.append(f'<text x="{_num(label_w + 2)}" y="{_num(middle)}" text-anchor="end">'
                    f'{escape(label)}</text>')
        body.append(f'<rect x="{x0}" y="{y}" width="{_num(x1 - x0)}" height="{BAR_H}"'
                    f' fill="#eceff1"/>')
        if bar.value is not None:
            length = max(0.0, min(1.0, bar.value / top)) * (x1 - x0)
            body.append(f'<rect x="{x0}" y="{y}" width="{_num(length)}" height="{BAR_H}"'
                        f' fill="{escape(bar.colour)}"/>')
        body.append(f'<text x="{_num(x1 + 4)}" y="{_num(middle)}">{escape(text)}</text></g>')
    return _svg(chart_id, title, description, WIDTH, 8 + len(bars) * ROW_H, body)


def _value(bar: Bar, value_text) -> str:
    return "—" if bar.value is None else value_text(bar.value)


def _nice_top(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at least `value` (an axis maximum)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def time_chart(chart_id: str, months: Sequence[str], values: Sequence[float], *, title: str,
               description: str, as_line: bool = False, colour: str = "#31a354") -> Markup:
    """Values over months ("2024-05"): columns, or a line for a running total.

    January of each year is marked on the time axis with the year.
    """
    height, left, bottom, top_pad = 170, 34, 18, 8
    plot_w, plot_h = WIDTH - left - 6, height - bottom - top_pad
    top = _nice_top(max(values, default=0))
    n = max(len(months), 1)
    step = plot_w / n
    body = [f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{WIDTH - 6}" '
            f'y2="{top_pad + plot_h}" stroke="{AXIS}"/>']
    for fraction in (0.5, 1.0):
        y = top_pad + plot_h * (1 - fraction)
        body.append(f'<line x1="{left}" y1="{_num(y)}" x2="{WIDTH - 6}" y2="{_num(y)}" '
                    f'stroke="#e9ecef"/>')
        body.append(f'<text x="{left - 4}" y="{_num(y + 4)}" text-anchor="end" '
                    f'font-size="10">{_num(top * fraction)}</text>')
    years = [i for i, m in enumerate(months) if m.endswith("-01")]
    if months and (not years or years[0] * step > 34):  # the first year, unless January is close
        years.insert(0, 0)
    every = max(1, math.ceil(len(years) * 34 / plot_w))
    for k, i in enumerate(years):
        x = left + i * step
        body.append(f'<line x1="{_num(x)}" y1="{top_pad + plot_h}" x2="{_num(x)}" '
                    f'y2="{top_pad + plot_h + 3}" stroke="{AXIS}"/>')
        if k % every == 0 and x < WIDTH - 24:
            body.append(f'<text x="{_num(x)}" y="{height - 4}" font-size="10">'
                        f'{escape(months[i][:4])}</text>')
    if as_line:
        points = " ".join(f"{_num(left + (i + 0.5) * step)},"
                          f"{_num(top_pad + plot_h * (1 - v / top))}"
                          for i, v in enumerate(values))
        if points:
            body.append(f'<polyline points="{points}" fill="none" stroke="{escape(colour)}" '
                        f'stroke-width="2"/>')
    for i, (month, value) in enumerate(zip(months, values, strict=True)):
        x, h = left + i * step, plot_h * value / top
        if as_line:
            body.append(f'<rect x="{_num(x)}" y="{top_pad}" width="{_num(step)}" '
                        f'height="{plot_h}" fill="transparent"><title>{escape(month)}: '
                        f'{_num(value)}</title></rect>')
        elif value:
            body.append(f'<rect x="{_num(x + step * 0.1)}" y="{_num(top_pad + plot_h - h)}" '
                        f'width="{_num(max(step * 0.8, 0.6))}" height="{_num(h)}" '
                        f'fill="{escape(colour)}"><title>{escape(month)}: {_num(value)}'
                        f'</title></rect>')
    return _svg(chart_id, title, description, WIDTH, height, body)


# --- The street map of the report ---------------------------------------------------------

@dataclass(frozen=True)
class MapShape:
    """A community on the report map: its footprint (or point), fill colour and tooltip."""

    geometry: object | None  # shapely geometry in EPSG:4326
    point: object | None  # where to draw a dot when there is no footprint
    fill: str
    title: str
    is_pilot: bool = False


def _rings(geometry) -> list:
    if isinstance(geometry, Polygon):
        return [geometry.exterior, *geometry.interiors]
    if isinstance(geometry, MultiPolygon):
        return [ring for polygon in geometry.geoms for ring in _rings(polygon)]
    return []


def street_map(chart_id: str, boundary, shapes: Sequence[MapShape], *, title: str,
               description: str, legend: Sequence[tuple[str, str]] = (),
               width: float = WIDTH, max_height: float = 420) -> Markup:
    """The street outline with its communities coloured, north up, with a scale bar.

    Longitude is shrunk by cos(latitude), so shapes keep their proportions (a plate
    carrée centred on the street: at a street's size it differs from a conformal
    projection by far less than a line's width). Below the map: the scale bar, the
    north arrow and the legend rows (colour, text).
    """
    minx, miny, maxx, maxy = boundary.bounds
    kx = math.cos(math.radians((miny + maxy) / 2))
    span_x, span_y = max((maxx - minx) * kx, 1e-9), max(maxy - miny, 1e-9)
    margin = 6
    scale = min((width - 2 * margin) / span_x, (max_height - 2 * margin) / span_y)
    map_h = span_y * scale + 2 * margin

    def xy(x: float, y: float) -> str:
        return f"{_num(margin + (x - minx) * kx * scale)},{_num(margin + (maxy - y) * scale)}"

    def path(geometry) -> str:
        return " ".join("M" + " L".join(xy(x, y) for x, y in ring.coords) + "Z"
                        for ring in _rings(geometry))

    body = [f'<path d="{path(boundary)}" fill="#f8f9fa" stroke="none"/>']
    for shape in shapes:
        stroke, stroke_w = ("#b8860b", 2) if shape.is_pilot else ("#555", 0.6)
        tip = f"<title>{escape(shape.title)}</title>"
        if shape.geometry is not None and _rings(shape.geometry):
            body.append(f'<path d="{path(shape.geometry)}" fill="{escape(shape.fill)}" '
                        f'fill-rule="evenodd" stroke="{stroke}" stroke-width="{stroke_w}">'
                        f'{tip}</path>')
        elif shape.point is not None:
            x, y = xy(shape.point.x, shape.point.y).split(",")
            body.append(f'<circle cx="{x}" cy="{y}" r="4" fill="{escape(shape.fill)}" '
                        f'stroke="{stroke}" stroke-width="{stroke_w}">{tip}</circle>')
    body.append(f'<path d="{path(boundary)}" fill="none" stroke="#1a237e" stroke-width="2"/>')
    y = map_h + 14
    body.extend(_scale_bar(scale, y, width))
    body.append(f'<path d="M{_num(width - 12)},{_num(y - 12)} l-5,12 l5,-3 l5,3 Z" '
                f'fill="{TEXT}"/><text x="{_num(width - 24)}" y="{_num(y)}" '
                f'font-weight="700" text-anchor="end">N</text>')
    x, y = margin, y + 10
    for colour, text in legend:
        item_w = 20 + text_width(text, 11) + 10
        if x + item_w > width and x > margin:
            x, y = margin, y + 16
        body.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="14" height="10" '
                    f'fill="{escape(colour)}" stroke="#777" stroke-width="0.5"/>'
                    f'<text x="{_num(x + 18)}" y="{_num(y + 9)}" font-size="11">'
                    f'{escape(text)}</text>')
        x += item_w
    return _svg(chart_id, title, description, width, y + (16 if legend else 4), body)


def _scale_bar(scale: float, y: float, width: float) -> list[str]:
    """A scale bar about a quarter of the width long, in round metres (1° of latitude ≈ 111 km)."""
    metres_per_unit = 111_320 / scale
    target = metres_per_unit * width / 4
    length_m = next((m for m in (5000, 2000, 1000, 500, 200, 100, 50) if m <= target), 50)
    length = length_m / metres_per_unit
    label = f"{length_m // 1000} km" if length_m >= 1000 else f"{length_m} m"
    return [f'<path d="M6,{_num(y - 5)} v5 h{_num(length)} v-5" fill="none" stroke="{TEXT}"/>',
            f'<text x="{_num(10 + length)}" y="{_num(y)}" font-size="11">{label}</text>']

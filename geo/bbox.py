"""Bounding boxes as they arrive in URLs: parsing, checking and map-zoom arithmetic."""

from __future__ import annotations

import math

BBox = tuple[float, float, float, float]


def parse_bbox(text: str | None) -> BBox:
    """Parse ``"minx,miny,maxx,maxy"`` in degrees; raise ``ValueError`` saying what is wrong.

    Examples
    --------
    >>> parse_bbox("116.1,39.8,116.3,39.95")
    (116.1, 39.8, 116.3, 39.95)
    """
    if not text:
        raise ValueError("bbox is missing")
    parts = text.split(",")
    if len(parts) != 4:
        raise ValueError("bbox needs four numbers: minx,miny,maxx,maxy")
    try:
        minx, miny, maxx, maxy = (float(part) for part in parts)
    except ValueError:
        raise ValueError("bbox must be numbers") from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise ValueError("bbox must be finite numbers")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
            and -90 <= maxy <= 90):
        raise ValueError("bbox lies outside longitude -180..180 / latitude -90..90")
    if minx > maxx or miny > maxy:
        raise ValueError("bbox minimum is greater than its maximum")
    return minx, miny, maxx, maxy


def pad(bbox: BBox, degrees: float) -> BBox:
    """Grow `bbox` by `degrees` on every side, clamped to the globe."""
    minx, miny, maxx, maxy = bbox
    return (max(minx - degrees, -180.0), max(miny - degrees, -90.0),
            min(maxx + degrees, 180.0), min(maxy + degrees, 90.0))


def tolerance_for_zoom(zoom: int | None, pixels: float = 0.5) -> float:
    """Degrees of longitude covered by `pixels` screen pixels at web-map `zoom`.

    Used to simplify geometry no more than the eye can see; 0 (no simplification)
    at zoom 17 and closer, or when the zoom is unknown.

    Examples
    --------
    >>> round(tolerance_for_zoom(12), 6)
    0.000172
    """
    if zoom is None or zoom >= 17:
        return 0.0
    return pixels * 360.0 / (256 * 2 ** max(zoom, 0))


def decimals_for_zoom(zoom: int | None, pixels: float = 0.5) -> int:
    """Decimals of a degree that keep coordinates within `pixels` screen pixels at `zoom`.

    Every further decimal is another byte per coordinate that the eye cannot see:
    4 at city scale, 5 at street scale, 6 (about 0.1 m) from zoom 17 on or when
    the zoom is unknown.

    Examples
    --------
    >>> [decimals_for_zoom(z) for z in (3, 12, 14, 16, 17, None)]
    [4, 4, 5, 5, 6, 6]
    """
    if zoom is None or zoom >= 17:
        return 6
    step = pixels * 360.0 / (256 * 2 ** max(zoom, 0))
    return min(6, max(4, math.ceil(-math.log10(step))))

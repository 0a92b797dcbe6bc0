"""GeoJSON features for the maps, with text in the reader's language.

Every value here is plain text; the page's JavaScript sets it with textContent.
"""

from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import gettext as _
from shapely.geometry import mapping, shape

from geo import gcj02
from renovation.catalogue import BY_CODE
from renovation.mapdata import CommunityInView, ItemInView
from renovation.models import DataSource
from renovation.progress import colour_for
from renovation.status import STATUS_COLOURS

PILOT_STROKE = "#b8860b"


def display_geometry(geometry: dict, display_crs: str) -> dict:
    """The geometry in the CRS the base map is drawn in (GCJ-02 for AMap)."""
    if display_crs == "gcj02":
        return mapping(gcj02.geometry_to_gcj02(shape(geometry)))
    return geometry


def percent_text(percent: float | None) -> str:
    return _("not in the programme") if percent is None else f"{percent:.0f}%"


def community_feature(c: CommunityInView, lang: str, display_crs: str) -> dict:
    street = c.street_name_en if lang == "en" else c.street_name_zh
    rows = [[_("Street"), street], [_("Progress"), percent_text(c.progress.percent)]]
    if c.progress.items:
        rows.append([_("Items"), _("%(items)d, %(done)d done, %(overdue)d overdue",
                                   items=c.progress.items, done=c.progress.done,
                                   overdue=c.progress.overdue)])
    if c.is_pilot:
        rows.append([_("Pilot"), _("District pilot") if c.is_district_pilot
                     else _("Street pilot")])
    if c.data_source == DataSource.GENERATED:
        rows.append([_("Footprint"), _("generated for the demo, not surveyed")])
    generated = c.data_source == DataSource.GENERATED
    return {
        "type": "Feature", "id": c.id,
        "geometry": display_geometry(c.geometry, display_crs),
        "properties": {
            "id": c.id, "code": c.code, "name": c.name, "street_code": c.street_code,
            "progress": c.progress.percent, "pilot": c.is_pilot,
            "data_source": c.data_source,
            "label": f"{c.name} · {percent_text(c.progress.percent)}",
            "title": c.name, "rows": rows,
            "url": url_for("pages.community", community_id=c.id),
            "link_text": _("Open the community page"),
            "fill": colour_for(c.progress.percent),
            "stroke": PILOT_STROKE if c.is_pilot else "#555555",
            "stroke_width": 3 if c.is_pilot else 1,
            "dash": "4 3" if generated else None,
            "radius": 7 if c.is_pilot else 5,
            "point_stroke": PILOT_STROKE if c.is_pilot else "#37474f",
            "point_stroke_width": 2.5 if c.is_pilot else 1,
        },
    }


def item_feature(item: ItemInView, lang: str, display_crs: str, today: dt.date) -> dict:
    kind = BY_CODE.get(item.kind)
    kind_name = kind.name(lang) if kind else item.kind
    overdue = (item.planned_end is not None and item.planned_end < today
               and not item.status.is_done)
    rows = [[_("Kind"), kind_name], [_("Status"), item.status.label(lang)],
            [_("Progress"), f"{item.progress_pct}%"], [_("Community"), item.community_name]]
    if item.planned_end:
        rows.append([_("Planned end"), item.planned_end.isoformat()
                     + (" · " + _("overdue") if overdue else "")])
    colour = STATUS_COLOURS[item.status]
    return {
        "type": "Feature", "id": item.id,
        "geometry": display_geometry(item.geometry, display_crs),
        "properties": {
            "id": item.id, "kind": item.kind, "status": item.status.value,
            "progress": item.progress_pct, "community_id": item.community_id,
            "label": f"{kind_name} · {item.status.label(lang)}",
            "title": item.title, "rows": rows,
            "url": url_for("pages.community", community_id=item.community_id,
                           _anchor=f"item-{item.id}"),
            "link_text": _("Open the community page"),
            "stroke": colour, "fill": colour, "stroke_width": 4,
        },
    }

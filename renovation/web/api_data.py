"""The JSON API for streets, communities, item lists, the catalogue and the token's user.

Reading is public, as the pages are. Each view checks its query parameters, calls one
service (:mod:`renovation.directory`) and shapes the answer; the shapes are documented,
and tested, in :mod:`renovation.openapi`. Items are shaped as ``GET /api/items/<id>``
answers (:func:`renovation.web.api_items.item_json`). ``/api/docs`` browses the document.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_babel import gettext as _

from renovation import directory, workflow
from renovation.catalogue import BY_CODE, KINDS, TIER_NAMES, Tier
from renovation.errors import DomainError, NotFound
from renovation.i18n import locale_code
from renovation.models import Community, RenovationItem
from renovation.overview import MAX_ID, StreetRow
from renovation.status import PROGRESS_RANGE, STATUS_COLOURS, Status
from renovation.web import db_session, whole_number
from renovation.web.api_items import item_json
from renovation.web.auth import current_user

bp = Blueprint("api_data", __name__, url_prefix="/api")

_FLAGS = {"1": True, "true": True, "0": False, "false": False}
_REALM = 'Bearer realm="gengxin"'


# --- Reading the query string -------------------------------------------------------------

def _bad(message: str, name: str):
    return DomainError(message, details={"fields": [name]})


def _whole(name: str, *, minimum: int, maximum: int, default: int | None = None) -> int | None:
    text = request.args.get(name)
    if text is None:
        return default
    number = whole_number(text, maximum=maximum)
    if number is None or number < minimum:
        raise _bad(_("%(name)s must be a whole number from %(minimum)d to %(maximum)d.",
                     name=name, minimum=minimum, maximum=maximum), name)
    return number


def _flag(name: str) -> bool | None:
    text = request.args.get(name)
    if text is None:
        return None
    if text not in _FLAGS:
        raise _bad(_("%(name)s must be 1 or 0.", name=name), name)  # true and false work too
    return _FLAGS[text]


def _text(name: str) -> str | None:
    text = request.args.get(name)
    if text is not None and len(text) > directory.MAX_SEARCH_TEXT:
        raise _bad(_("%(name)s may have at most %(n)d characters.", name=name,
                     n=directory.MAX_SEARCH_TEXT), name)
    return text


def _paging() -> tuple[int, int]:
    limit = _whole("limit", minimum=1, maximum=directory.MAX_LIMIT,
                   default=directory.DEFAULT_LIMIT)
    return limit, _whole("offset", minimum=0, maximum=MAX_ID, default=0)


def _page_links(page: directory.Page, query: dict) -> dict:
    """self, next and prev of `page`, keeping the filters (only known names reach url_for)."""
    def link(offset: int) -> str:
        args = {k: v for k, v in query.items() if v is not None}
        if request.args.get("lang"):
            args["lang"] = request.args["lang"]
        return url_for(request.endpoint, **args, limit=page.limit, offset=offset)

    return {"self": link(page.offset),
            "next": link(page.offset + page.limit) if page.has_next else None,
            "prev": link(max(page.offset - page.limit, 0)) if page.offset else None}


# --- Representations ----------------------------------------------------------------------

def _progress_fields(progress) -> dict:
    return {"progress": progress.percent, "items": progress.items, "done": progress.done,
            "overdue": progress.overdue}


def _street_json(row: StreetRow, lang: str) -> dict:
    street = row.street
    return {
        "code": street.code, "name": street.name(lang), "name_zh": street.name_zh,
        "name_en": street.name_en, **_progress_fields(row.progress),
        "communities": row.communities,
        "communities_in_programme": row.communities_in_programme,
        "building_area_m2": row.building_area_m2, "data_source": street.data_source,
        "links": {"self": url_for("api_data.get_street", code=street.code),
                  "html": url_for("pages.street", code=street.code),
                  "communities": url_for("api_data.list_communities", street=street.code),
                  "items": url_for("api_data.list_items", street=street.code)},
    }


def _community_json(summary: directory.CommunitySummary, lang: str) -> dict:
    c: Community = summary.community
    return {
        "id": c.id, "code": c.code, "name": c.name, "street_code": c.street.code,
        "street_name": c.street.name(lang), **_progress_fields(summary.progress),
        "year_built": c.year_built, "building_area_m2": c.building_area_m2,
        "households": c.households, "building_count": c.building_count,
        "is_pilot": c.is_pilot, "is_district_pilot": c.is_district_pilot,
        "data_source": c.data_source,
        "location": list(summary.location) if summary.location else None,
        "links": {"self": url_for("api_data.get_community", community_id=c.id),
                  "html": url_for("pages.community", community_id=c.id),
                  "items": url_for("api_data.list_items", community=c.id)},
    }


def _item_summary_json(item: RenovationItem, lang: str, today: dt.date) -> dict:
    kind = BY_CODE.get(item.kind)
    return {
        "id": item.id, "kind": item.kind, "kind_name": kind.name(lang) if kind else item.kind,
        "title": item.title, "status": item.status.value,
        "status_label": item.status.label(lang), "progress": item.progress_pct,
        "planned_end": item.planned_end.isoformat() if item.planned_end else None,
        "is_overdue": item.is_overdue(today),
        "links": {"self": url_for("api_items.get_item", item_id=item.id),
                  "html": url_for("items.item_page", item_id=item.id)},
    }


def _names(zh: str, en: str, lang: str) -> dict:
    return {"name": en if lang == "en" else zh, "name_zh": zh, "name_en": en}


def _catalogue_json(lang: str) -> dict:
    return {
        "tiers": [{"code": tier.value, **_names(*TIER_NAMES[tier], lang)} for tier in Tier],
        "kinds": [{"code": k.code, "tier": k.tier.value, **_names(k.name_zh, k.name_en, lang),
                   "unit": k.unit(lang), "unit_zh": k.unit_zh, "unit_en": k.unit_en,
                   "weight": k.weight, "geometry_type": k.geometry, "colour": k.colour}
                  for k in KINDS],
        "statuses": [{"code": s.value, "label": s.label(lang), "label_zh": s.label("zh"),
                      "label_en": s.label("en"), "colour": STATUS_COLOURS[s],
                      "is_done": s.is_done, "progress_min": PROGRESS_RANGE[s][0],
                      "progress_max": PROGRESS_RANGE[s][1],
                      "allowed_next": [n.value for n in workflow.next_statuses(s)]}
                     for s in Status],
    }


# --- Views --------------------------------------------------------------------------------

@bp.after_request
def _challenge(response):
    # RFC 6750: a 401 says which scheme to use, and whether the token sent was the problem.
    if response.status_code == 401:
        sent = request.headers.get("Authorization", "").partition(" ")[0].lower() == "bearer"
        response.headers["WWW-Authenticate"] = (_REALM + ', error="invalid_token"' if sent
                                                else _REALM)
    return response


@bp.get("/streets")
def list_streets():
    lang = locale_code()
    return jsonify({"streets": [_street_json(row, lang)
                                for row in directory.list_streets(db_session())]})


@bp.get("/streets/<code>")
def get_street(code: str):
    with_geometry = _flag("geometry")
    session = db_session()
    row = directory.get_street_row(session, code)
    body = _street_json(row, locale_code())
    if with_geometry:
        body["boundary"] = directory.street_boundary(session, row.street)
    return jsonify(body)


@bp.get("/communities")
def list_communities():
    query = {"street": request.args.get("street") or None, "pilot": _flag("pilot"),
             "in_programme": _flag("in_programme"),
             "year_built_from": _whole("year_built_from", minimum=0,
                                       maximum=directory.MAX_YEAR),
             "year_built_to": _whole("year_built_to", minimum=0, maximum=directory.MAX_YEAR),
             "q": _text("q")}
    limit, offset = _paging()
    filters = directory.CommunityFilters(
        street_code=query["street"], is_pilot=query["pilot"],
        in_programme=query["in_programme"], year_built_from=query["year_built_from"],
        year_built_to=query["year_built_to"], text=query["q"] or "")
    page = directory.list_communities(db_session(), filters, limit=limit, offset=offset)
    lang = locale_code()
    return jsonify({"total": page.total, "limit": page.limit, "offset": page.offset,
                    "communities": [_community_json(s, lang) for s in page.rows],
                    "links": _page_links(page, _link_query(query))})


@bp.get("/communities/<int:community_id>")
def get_community(community_id: int):
    detail = directory.get_community_detail(db_session(), community_id)
    lang, today = locale_code(), dt.date.today()
    community = detail.summary.community
    body = _community_json(detail.summary, lang)
    body.update({"footprint": detail.footprint, "source_note": community.source_note,
                 "updated_at": _iso_datetime(community.updated_at),
                 "item_list": [_item_summary_json(i, lang, today) for i in detail.items]})
    return jsonify(body)


@bp.get("/items")
def list_items():
    kind = request.args.get("kind")
    if kind is not None and kind not in BY_CODE:
        raise _bad(_("Unknown item kind: %(kinds)s.", kinds=kind[:40]), "kind")
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in Status}:
        raise _bad(_("Unknown status: %(value)s.", value=status[:40]), "status")
    query = {"street": request.args.get("street") or None,
             "community": _whole("community", minimum=1, maximum=MAX_ID),
             "kind": kind, "status": status, "overdue": _flag("overdue")}
    limit, offset = _paging()
    filters = directory.ItemFilters(
        street_code=query["street"], community_id=query["community"], kind=kind,
        status=Status(status) if status else None, is_overdue=query["overdue"])
    page = directory.list_items(db_session(), filters, limit=limit, offset=offset)
    lang = locale_code()
    return jsonify({"total": page.total, "limit": page.limit, "offset": page.offset,
                    "items": [item_json(item, lang) for item in page.rows],
                    "links": _page_links(page, _link_query(query))})


@bp.get("/catalogue")
def catalogue():
    return jsonify(_catalogue_json(locale_code()))


@bp.get("/me")
def me():
    user = current_user()
    if user is None:
        if request.headers.get("Authorization", "").partition(" ")[0].lower() == "bearer":
            raise DomainError(_("The API token is not valid or has been revoked."), status=401)
        raise DomainError(_("This needs an API token: send the header "
                            "Authorization: Bearer <token>."), status=401)
    return jsonify({"username": user.username, "display_name": user.display_name,
                    "role": user.role.value,
                    "street_code": user.street.code if user.street else None,
                    "community_id": user.community_id})


@bp.get("/docs")
def docs():
    return render_template("api/docs.html",
                           spec_url=url_for("api_items.openapi_document"))


# --- Helpers ------------------------------------------------------------------------------

def _link_query(query: dict) -> dict:
    """The filters as they go back into a link: flags as 1/0."""
    return {name: (int(value) if isinstance(value, bool) else value)
            for name, value in query.items()}


def _iso_datetime(value: dt.datetime) -> str:
    """ISO 8601 in UTC with its offset; SQLite hands back the stored UTC time without one."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


@bp.get("/exports/<layer>")
def export(layer: str):
    """The same files as the export page, for scripts: ``?format=...`` and the map filters."""
    from renovation.exporting import LAYERS
    from renovation.web.gis import export_response

    if layer not in LAYERS:
        raise NotFound(_("There is no layer %(layer)s: use %(names)s.", layer=layer[:40],
                         names=", ".join(LAYERS)))
    return export_response(layer, request.args.get("format", "geojson"))

"""The OpenAPI 3.0 document of the JSON API under ``/api``, built from the domain's own tables.

Statuses, item kinds, the note limit and the id range come from the modules that enforce
them, so the document cannot drift from what the API accepts. Every schema is exact enough
to validate real responses (the tests do) and to generate requests from (schemathesis).
"""

from __future__ import annotations

import copy

from renovation import filters
from renovation.catalogue import KINDS, Tier
from renovation.directory import DEFAULT_LIMIT, MAX_LIMIT, MAX_SEARCH_TEXT, MAX_YEAR
from renovation.exporting import FORMATS, LAYERS
from renovation.models import DataSource, Role
from renovation.overview import MAX_ID
from renovation.status import Status
from renovation.workflow import MAX_NOTE_LENGTH

OPENAPI_VERSION = "3.0.3"
#: The version of the API contract (not of the package): bump it when a response changes shape.
API_VERSION = "1.0.0"

_KIND_CODES = [kind.code for kind in KINDS]
#: The app refuses a NUL character anywhere in a request (PostgreSQL cannot store it).
_NO_NUL = "^[^\\u0000]*$"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    """`schema` that also allows null (OpenAPI 3.0 needs the type in the same object)."""
    nullable = {**schema, "nullable": True}
    if "enum" in nullable:
        nullable["enum"] = [*nullable["enum"], None]
    return nullable


def _error_response(description: str, *, headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


_STATUS = {"type": "string", "enum": [s.value for s in Status],
           "description": "planned 待启动 → consulting 征询中 → design 设计中 → "
                          "construction 施工中 → completed 已完工 → accepted 已验收; "
                          "suspended 暂缓 and back."}

_GEOMETRY = {
    "type": "object",
    "description": "A GeoJSON geometry (RFC 7946) in WGS84 longitude/latitude.",
    "required": ["type"],
    "properties": {
        "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString",
                                            "MultiLineString", "Polygon", "MultiPolygon",
                                            "GeometryCollection"]},
        "coordinates": {"type": "array", "items": {}},
        "geometries": {"type": "array", "items": _ref("Geometry")},
    },
}

_DATE = {"type": "string", "format": "date", "example": "2026-05-31"}
_DATE_TIME = {"type": "string", "format": "date-time",
              "description": "ISO 8601 with the UTC offset."}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}

_ITEM = {
    "type": "object",
    "required": ["id", "community_id", "community_name", "street_code", "kind", "kind_name",
                 "title", "status", "status_label", "progress", "quantity", "unit",
                 "planned_start", "planned_end", "actual_start", "actual_end", "version",
                 "updated_at", "geometry", "allowed_next_statuses", "url"],
    "properties": {
        "id": _ID,
        "community_id": _ID,
        "community_name": {"type": "string"},
        "street_code": {"type": "string", "example": "110107002000"},
        "kind": {"type": "string", "enum": _KIND_CODES},
        "kind_name": {"type": "string", "description": "In the language asked for (lang)."},
        "title": {"type": "string"},
        "status": _ref("Status"),
        "status_label": {"type": "string", "description": "In the language asked for (lang)."},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100,
                     "description": "Per cent done."},
        "quantity": _nullable({"type": "number", "minimum": 0}),
        "unit": _nullable({"type": "string"}),
        "planned_start": _nullable(_DATE),
        "planned_end": _nullable(_DATE),
        "actual_start": _nullable(_DATE),
        "actual_end": _nullable(_DATE),
        "version": {"type": "integer", "minimum": 1,
                    "description": "Send it back with a change: a change based on an older "
                                   "version is refused with 409."},
        "updated_at": _DATE_TIME,
        "geometry": _nullable(_GEOMETRY),
        "allowed_next_statuses": {
            "type": "array", "items": _ref("Status"),
            "description": "The statuses the item may move to. Staying in its status (to "
                           "change progress or add a note) is always allowed."},
        "url": {"type": "string", "description": "The item's page, relative to the site."},
    },
}

_CHANGE_REQUEST = {
    "type": "object",
    "required": ["version"],
    "additionalProperties": False,
    "description": "Fields left out (or null) keep their value; at least one of status, "
                   "progress or note must change something.",
    "properties": {
        "version": {"type": "integer", "minimum": 1, "maximum": MAX_ID,
                    "description": "The version of the item this change is based on."},
        "status": _nullable(_STATUS),
        "progress": _nullable({"type": "integer", "minimum": 0, "maximum": 100,
                               "description": "Must fit the status, e.g. 10-99 under "
                                              "construction, 100 when completed."}),
        "note": _nullable({"type": "string", "maxLength": MAX_NOTE_LENGTH,
                           "pattern": _NO_NUL}),
        "date": _nullable({**_DATE, "description": "The day the change happened on site "
                                                   "(default: today)."}),
    },
    "example": {"version": 3, "status": "construction", "progress": 15,
                "note": "Scaffolding is up."},
}

_ERROR_BODY = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "integer", "minimum": 400, "maximum": 599,
                   "description": "The HTTP status again."},
        "message": {"type": "string",
                    "description": "What is wrong, in the language asked for (lang)."},
        "details": {"type": "object",
                    "properties": {"fields": {"type": "array", "items": {"type": "string"},
                                              "description": "The request fields at fault."}}},
    },
}

_CHANGE = {
    "type": "object",
    "required": ["id", "changed_at", "effective_date", "user", "status_before", "status_after",
                 "progress_before", "progress_after", "note", "version_after", "source",
                 "photos"],
    "properties": {
        "id": _ID,
        "changed_at": _DATE_TIME,
        "effective_date": _DATE,
        "user": {"type": "object", "required": ["username", "display_name"],
                 "properties": {"username": {"type": "string"},
                                "display_name": {"type": "string"}}},
        "status_before": _ref("Status"),
        "status_after": _ref("Status"),
        "progress_before": {"type": "integer", "minimum": 0, "maximum": 100},
        "progress_after": {"type": "integer", "minimum": 0, "maximum": 100},
        "note": {"type": "string"},
        "version_after": {"type": "integer", "minimum": 2},
        "source": {"type": "string", "enum": ["web", "api", "spreadsheet"]},
        "photos": {"type": "array", "items": {"type": "string"},
                   "description": "Addresses of the photos, relative to the site."},
    },
}


def _feature_collection(properties: dict) -> dict:
    return {
        "type": "object",
        "required": ["type", "features", "truncated"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "truncated": {"type": "boolean",
                          "description": "True when the view held more features than one "
                                         "answer may carry: zoom in."},
            "features": {"type": "array", "items": {
                "type": "object",
                "required": ["type", "id", "geometry", "properties"],
                "properties": {
                    "type": {"type": "string", "enum": ["Feature"]},
                    "id": _ID,
                    "geometry": _ref("Geometry"),
                    "properties": properties,
                },
            }},
        },
    }


_ROWS = {"type": "array", "items": {"type": "array", "items": {"type": "string"}},
         "description": "[label, value] pairs for the map's popup, in the language asked for."}

_COMMUNITY_PROPERTIES = {
    "type": "object",
    "required": ["id", "code", "name", "street_code", "progress", "pilot", "data_source",
                 "label", "title", "rows", "url"],
    "properties": {
        "id": _ID, "code": {"type": "string"}, "name": {"type": "string"},
        "street_code": {"type": "string"},
        "progress": _nullable({"type": "number", "minimum": 0, "maximum": 100,
                               "description": "Weighted per cent done; null when the "
                                              "community has no items."}),
        "pilot": {"type": "boolean"},
        "data_source": {"type": "string", "enum": ["generated", "imported", "official"]},
        "label": {"type": "string"}, "title": {"type": "string"}, "rows": _ROWS,
        "url": {"type": "string"}, "link_text": {"type": "string"},
        "fill": {"type": "string"}, "stroke": {"type": "string"},
        "stroke_width": {"type": "number"}, "dash": _nullable({"type": "string"}),
        "radius": {"type": "number"}, "point_stroke": {"type": "string"},
        "point_stroke_width": {"type": "number"},
    },
}

_ITEM_PROPERTIES = {
    "type": "object",
    "required": ["id", "kind", "status", "progress", "community_id", "label", "title", "rows",
                 "url"],
    "properties": {
        "id": _ID, "kind": {"type": "string", "enum": _KIND_CODES}, "status": _ref("Status"),
        "progress": {"type": "integer", "minimum": 0, "maximum": 100}, "community_id": _ID,
        "label": {"type": "string"}, "title": {"type": "string"}, "rows": _ROWS,
        "url": {"type": "string"}, "link_text": {"type": "string"},
        "stroke": {"type": "string"}, "fill": {"type": "string"},
        "stroke_width": {"type": "number"},
    },
}

_PARAMETERS = {
    "ItemId": {"name": "item_id", "in": "path", "required": True,
               "description": "The item's number.", "schema": _ID, "example": 1},
    "Lang": {"name": "lang", "in": "query", "required": False,
             "description": "The language of names and messages: zh (the default) or en. "
                            "Other values are ignored.",
             "schema": {"type": "string", "pattern": _NO_NUL, "example": "en"}},
    "Bbox": {"name": "bbox", "in": "query", "required": True, "style": "form",
             "explode": False,
             "description": "The view: minx,miny,maxx,maxy in degrees (WGS84, or GCJ-02 with "
                            "display=gcj02): longitudes -180..180, latitudes -90..90, each "
                            "minimum not above its maximum.",
             "schema": {"type": "array", "minItems": 4, "maxItems": 4,
                        "items": {"type": "number", "minimum": -180, "maximum": 180}},
             "example": [116.15, 39.88, 116.25, 39.95]},
    "Zoom": {"name": "zoom", "in": "query", "required": False,
             "description": "The web-map zoom: geometry is simplified to what it can show.",
             "schema": {"type": "integer", "minimum": 0, "maximum": 30}},
    "Display": {"name": "display", "in": "query", "required": False,
                "description": "The CRS the base map is drawn in; gcj02 for AMap.",
                "schema": {"type": "string", "enum": ["wgs84", "gcj02"], "default": "wgs84"}},
}

# --- Streets, communities, items lists, the catalogue, the token's user -----------------------

_LINK = {"type": "string", "description": "An address relative to the site."}
_NEXT_LINK = _nullable({**_LINK, "description": "An address relative to the site; null when "
                                                "there is no such page."})


def _links(*names: str) -> dict:
    return {"type": "object", "required": list(names), "additionalProperties": False,
            "properties": {name: _LINK for name in names}}


def _closed(required: list[str], properties: dict, **extra) -> dict:
    """An object schema with exactly `properties`, of which `required` must be present."""
    return {"type": "object", "required": required, "additionalProperties": False,
            "properties": properties, **extra}


_COUNT = {"type": "integer", "minimum": 0}
_DATA_SOURCE = {"type": "string", "enum": list(DataSource.ALL),
                "description": "Where the geometry came from: generated (drawn for the demo, "
                               "not surveyed), imported (a GIS file) or official."}
_PROGRESS_FIELDS = {
    "progress": _nullable({"type": "number", "minimum": 0, "maximum": 100,
                           "description": "Per cent done: the mean of the items' progress "
                                          "weighted by their kind's weight; null without "
                                          "items."}),
    "items": {**_COUNT, "description": "Renovation items."},
    "done": {**_COUNT, "description": "Items completed or accepted."},
    "overdue": {**_COUNT, "description": "Items past their planned end and not done."},
}
_STREET_CODE = {"type": "string", "example": "110107002000"}

_STREET_PROPERTIES = {
    "code": _STREET_CODE,
    "name": {"type": "string", "description": "In the language asked for (lang)."},
    "name_zh": {"type": "string"},
    "name_en": {"type": "string"},
    **_PROGRESS_FIELDS,
    "communities": {**_COUNT, "description": "Communities in the street."},
    "communities_in_programme": {**_COUNT, "description": "Communities with items."},
    "building_area_m2": {"type": "number", "minimum": 0,
                         "description": "Building area of the street's communities, m²."},
    "data_source": _DATA_SOURCE,
    "links": _links("self", "html", "communities", "items"),
}
_STREET = _closed(list(_STREET_PROPERTIES), _STREET_PROPERTIES)
_STREET_DETAIL = _closed(list(_STREET_PROPERTIES), {
    **_STREET_PROPERTIES,
    "boundary": {**_ref("Geometry"),
                 "description": "The boundary (a MultiPolygon); only with geometry=1."},
})

_COMMUNITY_SUMMARY_PROPERTIES = {
    "id": _ID,
    "code": {"type": "string"},
    "name": {"type": "string"},
    "street_code": _STREET_CODE,
    "street_name": {"type": "string", "description": "In the language asked for (lang)."},
    **_PROGRESS_FIELDS,
    "year_built": _nullable({"type": "integer"}),
    "building_area_m2": _nullable({"type": "number", "minimum": 0}),
    "households": _nullable(_COUNT),
    "building_count": _nullable(_COUNT),
    "is_pilot": {"type": "boolean", "description": "A pilot of its street or the district."},
    "is_district_pilot": {"type": "boolean"},
    "data_source": _DATA_SOURCE,
    "location": _nullable({"type": "array", "minItems": 2, "maxItems": 2,
                           "items": {"type": "number"},
                           "description": "[longitude, latitude] in WGS84: a point inside "
                                          "the footprint."}),
    "links": _links("self", "html", "items"),
}
_COMMUNITY = _closed(list(_COMMUNITY_SUMMARY_PROPERTIES), _COMMUNITY_SUMMARY_PROPERTIES)

_ITEM_SUMMARY_PROPERTIES = {
    "id": _ID,
    "kind": {"type": "string", "enum": _KIND_CODES},
    "kind_name": {"type": "string", "description": "In the language asked for (lang)."},
    "title": {"type": "string"},
    "status": _ref("Status"),
    "status_label": {"type": "string", "description": "In the language asked for (lang)."},
    "progress": {"type": "integer", "minimum": 0, "maximum": 100},
    "planned_end": _nullable(_DATE),
    "is_overdue": {"type": "boolean"},
    "links": _links("self", "html"),
}
_ITEM_SUMMARY = _closed(list(_ITEM_SUMMARY_PROPERTIES), _ITEM_SUMMARY_PROPERTIES)

_COMMUNITY_DETAIL_PROPERTIES = {
    **_COMMUNITY_SUMMARY_PROPERTIES,
    "footprint": _nullable({**_GEOMETRY, "description": "The compound's outline (a "
                                                        "MultiPolygon), or null."}),
    "source_note": _nullable({"type": "string", "description": "Where the data came from."}),
    "updated_at": _DATE_TIME,
    "item_list": {"type": "array", "items": _ref("ItemSummary"),
                  "description": "The community's items, by id."},
}
_COMMUNITY_DETAIL = _closed(list(_COMMUNITY_DETAIL_PROPERTIES), _COMMUNITY_DETAIL_PROPERTIES)


def _page(key: str, item_schema: str) -> dict:
    return _closed(["total", "limit", "offset", key, "links"], {
        "total": {**_COUNT, "description": "How many match the filters, on all pages."},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        "offset": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        key: {"type": "array", "items": _ref(item_schema)},
        "links": _closed(["self", "next", "prev"], {"self": _LINK, "next": _NEXT_LINK,
                                                    "prev": _NEXT_LINK}),
    })


_ME = _closed(["username", "display_name", "role", "street_code", "community_id"], {
    "username": {"type": "string"},
    "display_name": {"type": "string"},
    "role": {"type": "string", "enum": [role.value for role in Role],
             "description": "admin and official (of their street) change items; planner, "
                            "moderator and resident read."},
    "street_code": _nullable({**_STREET_CODE, "description": "An official's street."}),
    "community_id": _nullable({**_ID, "description": "A resident's community."}),
})

_NAMES = {"name": {"type": "string", "description": "In the language asked for (lang)."},
          "name_zh": {"type": "string"}, "name_en": {"type": "string"}}
_CATALOGUE = _closed(["tiers", "kinds", "statuses"], {
    "tiers": {"type": "array", "items": _closed(["code", *_NAMES], {
        "code": {"type": "string", "enum": [tier.value for tier in Tier]}, **_NAMES})},
    "kinds": {"type": "array", "items": _closed(
        ["code", "tier", *_NAMES, "unit", "unit_zh", "unit_en", "weight", "geometry_type",
         "colour"], {
            "code": {"type": "string", "enum": _KIND_CODES},
            "tier": {"type": "string", "enum": [tier.value for tier in Tier]},
            **_NAMES,
            "unit": {"type": "string", "description": "In the language asked for (lang)."},
            "unit_zh": {"type": "string"}, "unit_en": {"type": "string"},
            "weight": {"type": "integer", "minimum": 1, "maximum": 5,
                       "description": "Relative effort in the progress roll-up."},
            "geometry_type": {"type": "string", "enum": ["point", "line", "polygon"]},
            "colour": {"type": "string", "pattern": "^#[0-9a-f]{6}$"}})},
    "statuses": {"type": "array", "items": _closed(
        ["code", "label", "label_zh", "label_en", "colour", "is_done", "progress_min",
         "progress_max", "allowed_next"], {
            "code": _ref("Status"),
            "label": {"type": "string", "description": "In the language asked for (lang)."},
            "label_zh": {"type": "string"}, "label_en": {"type": "string"},
            "colour": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
            "is_done": {"type": "boolean"},
            "progress_min": {"type": "integer", "minimum": 0, "maximum": 100},
            "progress_max": {"type": "integer", "minimum": 0, "maximum": 100},
            "allowed_next": {"type": "array", "items": _ref("Status"),
                             "description": "The statuses an item may move to from this one."}})},
})

_FLAG = {"type": "string", "enum": ["1", "0", "true", "false"]}


def _query(name: str, description: str, schema: dict, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, **extra}


_DATA_PARAMETERS = {
    "StreetCode": {"name": "code", "in": "path", "required": True,
                   "description": "The street's code (12 digits).",
                   "schema": {"type": "string", "pattern": _NO_NUL},
                   "example": "110107002000"},
    "CommunityId": {"name": "community_id", "in": "path", "required": True,
                    "description": "The community's number.", "schema": _ID, "example": 1},
    "Limit": _query("limit", f"How many per page (default {DEFAULT_LIMIT}).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                     "default": DEFAULT_LIMIT}),
    "Offset": _query("offset", "How many to skip (default 0).",
                     {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0}),
    "StreetFilter": _query("street", "Only those of the street with this code.",
                           {"type": "string", "pattern": _NO_NUL}, example="110107002000"),
}
_PAGING = [{"$ref": "#/components/parameters/Limit"}, {"$ref": "#/components/parameters/Offset"}]
_YEAR = {"type": "integer", "minimum": 0, "maximum": MAX_YEAR}

_BAD_PARAMETER = _error_response("A parameter is not valid: the message says why and "
                                 "details.fields names it.")
_UNAUTHORIZED = _error_response(
    "No API token, or one that is not valid or has been revoked.",
    headers={"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}})

_BAD_REQUEST = _error_response("The request is not valid; the message says why.")
_NOT_FOUND = _error_response("There is no such item.")


def _operation(operation_id: str, summary: str, responses: dict, *, parameters=(),
               **extra) -> dict:
    params = [{"$ref": "#/components/parameters/Lang"}, *parameters]
    # The app refuses a NUL character in any query parameter with 400, on every route.
    responses = {"400": _BAD_REQUEST, **responses}
    return {"operationId": operation_id, "summary": summary, "parameters": params,
            "responses": dict(sorted(responses.items())), **extra}


def _codes(codes: list[str]) -> dict:
    """Comma-separated `codes`, e.g. ``a,b`` (spaces around them and empty ones are ignored)."""
    one = f" *({'|'.join(codes)})? *"
    return {"type": "string", "pattern": f"^{one}(,{one})*$"}


def _map_filters() -> list[dict]:
    """The filters the maps share with the pages (:mod:`renovation.filters`)."""
    year = {"type": "integer", "minimum": filters.EARLIEST_YEAR, "maximum": filters.LATEST_YEAR}
    flag = {"type": "string", "enum": ["1", "0", "true", "false", ""]}
    return [
        {"name": "street", "in": "query", "required": False,
         "description": "Only those of the street with this code.",
         "schema": {"type": "string", "maxLength": filters.MAX_STREET_CODE,
                    "pattern": _NO_NUL, "example": "110107002000"}},
        {"name": "kind", "in": "query", "required": False,
         "description": "Only items of these kinds (comma-separated codes); for communities, "
                        "those with such items.",
         "schema": {**_codes(_KIND_CODES), "example": "lift_retrofit,parking"}},
        {"name": "status", "in": "query", "required": False,
         "description": "Only items in these statuses (comma-separated codes); for "
                        "communities, those with such items.",
         "schema": {**_codes([s.value for s in Status]), "example": "construction"}},
        {"name": "built_from", "in": "query", "required": False,
         "description": "Only communities built in or after this year (not after built_to).",
         "schema": year},
        {"name": "built_to", "in": "query", "required": False,
         "description": "Only communities built in or before this year.", "schema": year},
        {"name": "pilot", "in": "query", "required": False,
         "description": "1: only pilot communities (and their items).", "schema": flag},
        {"name": "overdue", "in": "query", "required": False,
         "description": "1: only items past their planned end and not done (for "
                        "communities, those with such items).", "schema": flag},
    ]


def _map_operation(operation_id: str, summary: str, parameters: list, properties: dict):
    return _operation(
        operation_id, summary,
        {"200": {"description": "The features in view, at most the server's limit.",
                 "content": {"application/geo+json": {
                     "schema": _feature_collection(properties)}}}},
        parameters=[{"$ref": "#/components/parameters/Bbox"},
                    {"$ref": "#/components/parameters/Zoom"},
                    {"$ref": "#/components/parameters/Display"}, *parameters],
        tags=["map"])


def _json_ok(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _data_paths() -> dict:
    """The paths of :mod:`renovation.web.api_data`: streets, communities, items, catalogue, me."""
    paging = _PAGING
    flag = _FLAG
    return {
        "/streets": {
            "get": _operation(
                "listStreets", "Every street with its progress and figures, in code order",
                {"200": _json_ok("The streets.", _closed(["streets"], {
                    "streets": {"type": "array", "items": _ref("Street")}}))},
                tags=["streets"]),
        },
        "/streets/{code}": {
            "get": _operation(
                "getStreet", "One street with its progress and figures; its boundary on request",
                {"200": _json_ok("The street.", _ref("StreetDetail")),
                 "404": _error_response("There is no street with this code.")},
                parameters=[{"$ref": "#/components/parameters/StreetCode"},
                            _query("geometry", "1 (or true): add the boundary as GeoJSON.",
                                   flag)],
                tags=["streets"]),
        },
        "/communities": {
            "get": _operation(
                "listCommunities", "Communities with their progress, filtered, in code order",
                {"200": _json_ok("A page of communities.", _ref("CommunityPage"))},
                parameters=[
                    {"$ref": "#/components/parameters/StreetFilter"},
                    _query("pilot", "1: only pilot communities; 0: only the others.", flag),
                    _query("in_programme", "1: only communities with items; 0: only those "
                                           "without.", flag),
                    _query("year_built_from", "Only those built in or after this year.", _YEAR),
                    _query("year_built_to", "Only those built in or before this year.", _YEAR),
                    _query("q", "Only those whose name or code contains this text.",
                           {"type": "string", "maxLength": MAX_SEARCH_TEXT, "pattern": _NO_NUL}),
                    *paging],
                tags=["communities"]),
        },
        "/communities/{community_id}": {
            "get": _operation(
                "getCommunity", "One community with its progress, footprint and items",
                {"200": _json_ok("The community.", _ref("CommunityDetail")),
                 "404": _error_response("There is no community with this number.")},
                parameters=[{"$ref": "#/components/parameters/CommunityId"}],
                tags=["communities"]),
        },
        "/items": {
            "get": _operation(
                "listItems", "Renovation items, filtered, by id",
                {"200": _json_ok("A page of items.", _ref("ItemPage"))},
                parameters=[
                    {"$ref": "#/components/parameters/StreetFilter"},
                    _query("community", "Only the items of this community.", _ID),
                    _query("kind", "Only items of this kind.",
                           {"type": "string", "enum": _KIND_CODES}),
                    _query("status", "Only items in this status.", _ref("Status")),
                    _query("overdue", "1: only items past their planned end and not done; "
                                      "0: only the others.", flag),
                    *paging],
                tags=["items"]),
        },
        "/exports/{layer}": {
            "get": _operation(
                "exportLayer", "Streets, communities (with progress) or items as a GIS file "
                               "or spreadsheet, filtered like the maps",
                {"200": {"description": "The file, as an attachment.", "content": {
                    # GeoJSON is JSON (an RFC 7946 FeatureCollection); the others are files.
                    mimetype: {"schema": {"type": "object"} if mimetype.endswith("json")
                               else {"type": "string", "format": "binary"}}
                    for mimetype in sorted({f.mimetype for f in FORMATS.values()})}},
                 "404": _error_response("There is no such layer.")},
                parameters=[
                    {"name": "layer", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": list(LAYERS)}},
                    _query("format", "The file format (default geojson: RFC 7946).",
                           {"type": "string", "enum": list(FORMATS)}),
                    *_map_filters()],
                tags=["exports"]),
        },
        "/catalogue": {
            "get": _operation(
                "getCatalogue", "Item kinds with their tiers, units and weights; statuses "
                                "with the moves allowed from each",
                {"200": _json_ok("The catalogue.", _ref("Catalogue"))},
                tags=["catalogue"]),
        },
        "/me": {
            "get": _operation(
                "getMe", "The user of the API token",
                {"200": _json_ok("The token's user.", _ref("Me")), "401": _UNAUTHORIZED},
                tags=["account"], security=[{"bearerAuth": []}]),
        },
        "/docs": {
            "get": _operation(
                "getApiDocs", "This document, browsable (Swagger UI)",
                {"200": {"description": "An HTML page.",
                         "content": {"text/html": {"schema": {"type": "string"}}}}},
                tags=["meta"]),
        },
    }


def _paths() -> dict:
    item_id = [{"$ref": "#/components/parameters/ItemId"}]
    return {
        "/items/{item_id}": {
            "get": _operation(
                "getItem", "One renovation item with its version and allowed next statuses",
                {"200": {"description": "The item.",
                         "content": {"application/json": {"schema": _ref("Item")}}},
                 "404": _NOT_FOUND},
                parameters=item_id, tags=["items"]),
            "patch": _operation(
                "changeItem", "Change an item's status, progress or note, based on a version",
                {"200": {"description": "The changed item, with the id of its new history "
                                        "row.",
                         "content": {"application/json": {"schema": _ref("ChangedItem")}}},
                 "400": _error_response("The body is not a valid change (unknown field, wrong "
                                        "type, a move the workflow does not allow, progress "
                                        "that does not fit the status...). Nothing changed."),
                 "401": _error_response(
                     "No API token, or one that is not valid or has been revoked.",
                     headers={"WWW-Authenticate": {"description": "Bearer",
                                                   "schema": {"type": "string"}}}),
                 "403": _error_response("The token's user may not change this item (another "
                                        "street, or a role that changes nothing)."),
                 "404": _NOT_FOUND,
                 "409": {"description": "The item changed since the version the change is "
                                        "based on; nothing changed. `current` is the item "
                                        "now: look at it and send the change again.",
                         "content": {"application/json": {"schema": _ref("Conflict")}}},
                 "413": _error_response("The body is too large."),
                 "415": _error_response("The body is not sent as application/json.")},
                parameters=item_id, tags=["items"], security=[{"bearerAuth": []}],
                requestBody={"required": True, "content": {
                    "application/json": {"schema": _ref("ChangeRequest")}}}),
        },
        "/items/{item_id}/history": {
            "get": _operation(
                "getItemHistory", "Every change of an item, newest first",
                {"200": {"description": "The item's changes.",
                         "content": {"application/json": {"schema": {
                             "type": "object", "required": ["item_id", "changes"],
                             "properties": {"item_id": _ID, "changes": {
                                 "type": "array", "items": _ref("Change")}}}}}},
                 "404": _NOT_FOUND},
                parameters=item_id, tags=["items"]),
        },
        "/map/communities": {
            "get": _map_operation(
                "getMapCommunities", "Communities in a map view, with their progress",
                [{"name": "pilots", "in": "query", "required": False,
                  "description": "1: only pilot communities, as points.",
                  "schema": {"type": "string", "pattern": _NO_NUL, "example": "1"}},
                 *_map_filters()],
                _COMMUNITY_PROPERTIES),
        },
        "/map/communities/{community_id}": {
            "get": _operation(
                "getMapCommunity", "What a community's map popup shows (fetched on click)",
                {"200": _json_ok("The community's popup text.", {
                    "type": "object", "required": ["id", "properties"],
                    "properties": {"id": _ID, "properties": {
                        "type": "object",
                        "required": ["id", "name", "code", "street_code", "progress", "pilot",
                                     "label", "title", "rows", "url", "link_text"],
                        "properties": {k: v for k, v in _COMMUNITY_PROPERTIES["properties"].items()
                                       if k in ("id", "name", "code", "street_code", "progress",
                                                "pilot", "label", "title", "rows", "url",
                                                "link_text")}}}}),
                 "404": _NOT_FOUND},
                parameters=[{"name": "community_id", "in": "path", "required": True,
                             "description": "The community's number.", "schema": _ID},
                            *_map_filters()],
                tags=["map"]),
        },
        "/map/items": {
            "get": _map_operation(
                "getMapItems", "Renovation items in a map view",
                [*_map_filters(),
                 {"name": "community", "in": "query", "required": False,
                  "description": "Only the items of this community.", "schema": _ID}],
                _ITEM_PROPERTIES),
        },
        "/openapi.json": {
            "get": _operation(
                "getOpenApi", "This document",
                {"200": {"description": "The OpenAPI document.",
                         "content": {"application/json": {"schema": {"type": "object"}}}}},
                tags=["meta"]),
        },
    }


_TAGS = [
    {"name": "streets", "description": "Streets (街道) with their progress"},
    {"name": "communities", "description": "Communities (社区) with their progress, "
                                           "footprints and items"},
    {"name": "items", "description": "Renovation items and their changes"},
    {"name": "exports", "description": "Files of what the filters select"},
                 {"name": "catalogue", "description": "Item kinds and statuses"},
    {"name": "account", "description": "The API token's user"},
    {"name": "map", "description": "GeoJSON of what is in a map view"},
    {"name": "meta", "description": "This document"},
]


def _merged(ours: dict, theirs: dict, what: str) -> dict:
    """`ours` and `theirs` in one dict; a name defined in both is a mistake, not an override."""
    clash = sorted(set(ours) & set(theirs))
    if clash:
        raise ValueError(f"OpenAPI {what} defined twice: {', '.join(clash)}")
    return {**ours, **theirs}


def _tags(paths: dict) -> list[dict]:
    """Our tags, then any other tag an operation uses (e.g. from the sessions API), by name."""
    known = {tag["name"] for tag in _TAGS}
    used = {tag for item in paths.values() for operation in item.values()
            if isinstance(operation, dict) for tag in operation.get("tags", [])}
    return [*_TAGS, *({"name": name} for name in sorted(used - known))]


def build_document(server_url: str = "/api") -> dict:
    """The OpenAPI 3.0.3 document of the JSON API, as a dict ready for JSON.

    The sessions and comments API adds its own paths and schemas
    (:data:`renovation.web.api_sessions.OPENAPI_PATHS` and ``OPENAPI_SCHEMAS``); a name
    defined twice raises ``ValueError``.

    Parameters
    ----------
    server_url : str
        Where the API is mounted, relative to the site (the paths are relative to it).
    """
    # Imported here: that module may use the helpers of this one to build its parts.
    from renovation.web import api_sessions

    paths = _merged({**_paths(), **_data_paths()}, api_sessions.OPENAPI_PATHS, "paths")
    schemas = _merged({
        "Status": _STATUS,
        "Geometry": _GEOMETRY,
        "Item": _ITEM,
        "ChangedItem": {"allOf": [_ref("Item"), {
            "type": "object", "required": ["change_id"],
            "properties": {"change_id": {**_ID, "description": "The id of the history "
                                                               "row of this change."}}}]},
        "ChangeRequest": _CHANGE_REQUEST,
        "Change": _CHANGE,
        "ErrorBody": _ERROR_BODY,
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": _ref("ErrorBody")}},
        "Conflict": {"type": "object", "required": ["error", "current"],
                     "properties": {"error": _ref("ErrorBody"),
                                    "current": _ref("Item")}},
        "Street": _STREET,
        "StreetDetail": _STREET_DETAIL,
        "Community": _COMMUNITY,
        "CommunityDetail": _COMMUNITY_DETAIL,
        "CommunityPage": _page("communities", "Community"),
        "ItemSummary": _ITEM_SUMMARY,
        "ItemPage": _page("items", "Item"),
        "Catalogue": _CATALOGUE,
        "Me": _ME,
    }, api_sessions.OPENAPI_SCHEMAS, "schemas")
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "gengxin: renovation of old residential communities, Shijingshan",
            "version": API_VERSION,
            "description": "Read streets, communities, renovation items and their history "
                           "(public, as on the pages); make changes with an API token "
                           "(`flask users token USERNAME`), with the same permissions as on "
                           "the pages. A change of an item names the version it is based on; "
                           "a stale one gets 409 and the current state. Lists are in a stable "
                           "order and paged with limit and offset. Errors are JSON: "
                           '{"error": {"status", "message", "details"?}}.',
        },
        "servers": [{"url": server_url}],
        "tags": _tags(paths),
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "parameters": {**_PARAMETERS, **_DATA_PARAMETERS},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token from `flask users token USERNAME`, "
                                              "sent as `Authorization: Bearer <token>`."},
            },
        },
    }
    # A copy: the schemas above are shared module constants a caller must not change.
    return copy.deepcopy(document)


#: Helpers for other modules' parts of the document (renovation.web.api_sessions).
ref, nullable, error_response, operation = _ref, _nullable, _error_response, _operation

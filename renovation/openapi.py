"""The OpenAPI 3.0 document of the JSON API under ``/api``, built from the domain's own tables.

Statuses, item kinds, the note limit and the id range come from the modules that enforce
them, so the document cannot drift from what the API accepts. Every schema is exact enough
to validate real responses (the tests do) and to generate requests from (schemathesis).
"""

from __future__ import annotations

import copy

from renovation.catalogue import KINDS
from renovation.overview import MAX_ID
from renovation.status import Status
from renovation.workflow import MAX_NOTE_LENGTH

OPENAPI_VERSION = "3.0.3"
#: The version of the API contract (not of the package): bump it when a response changes shape.
API_VERSION = "1.0.0"

_KIND_CODES = [kind.code for kind in KINDS]
_KIND_ALTERNATIVES = "|".join(_KIND_CODES)


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
        "note": _nullable({"type": "string", "maxLength": MAX_NOTE_LENGTH}),
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
               "description": "The item's number.", "schema": _ID},
    "Lang": {"name": "lang", "in": "query", "required": False,
             "description": "The language of names and messages: zh (the default) or en. "
                            "Other values are ignored.",
             "schema": {"type": "string", "example": "en"}},
    "Bbox": {"name": "bbox", "in": "query", "required": True, "style": "form",
             "explode": False,
             "description": "The view: minx,miny,maxx,maxy in degrees (WGS84, or GCJ-02 with "
                            "display=gcj02); minimum not above maximum.",
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

_BAD_REQUEST = _error_response("The request is not valid; the message says why.")
_NOT_FOUND = _error_response("There is no such item.")


def _operation(operation_id: str, summary: str, responses: dict, *, parameters=(),
               **extra) -> dict:
    params = [{"$ref": "#/components/parameters/Lang"}, *parameters]
    # The app refuses a NUL character in any query parameter with 400, on every route.
    responses = {"400": _BAD_REQUEST, **responses}
    return {"operationId": operation_id, "summary": summary, "parameters": params,
            "responses": dict(sorted(responses.items())), **extra}


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
                  "schema": {"type": "string", "example": "1"}},
                 {"name": "street", "in": "query", "required": False,
                  "description": "Only the communities of the street with this code.",
                  "schema": {"type": "string", "example": "110107002000"}}],
                _COMMUNITY_PROPERTIES),
        },
        "/map/items": {
            "get": _map_operation(
                "getMapItems", "Renovation items in a map view",
                [{"name": "kind", "in": "query", "required": False,
                  "description": "Only items of these kinds (comma-separated codes).",
                  "schema": {"type": "string",
                             "pattern": f"^(({_KIND_ALTERNATIVES})?(,({_KIND_ALTERNATIVES})?)*)$",
                             "example": "lift_retrofit,parking"}},
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


def build_document(server_url: str = "/api") -> dict:
    """The OpenAPI 3.0.3 document of the JSON API, as a dict ready for JSON.

    Parameters
    ----------
    server_url : str
        Where the API is mounted, relative to the site (the paths are relative to it).
    """
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "gengxin: renovation of old residential communities, Shijingshan",
            "version": API_VERSION,
            "description": "Read renovation items and their history (public), and change "
                           "them with an API token (`flask users token USERNAME`). Every "
                           "change names the version it is based on; a stale one gets 409 and "
                           "the current state. Errors are JSON: "
                           '{"error": {"status", "message", "details"?}}.',
        },
        "servers": [{"url": server_url}],
        "tags": [{"name": "items", "description": "Renovation items and their changes"},
                 {"name": "map", "description": "GeoJSON of what is in a map view"},
                 {"name": "meta", "description": "This document"}],
        "paths": _paths(),
        "components": {
            "schemas": {
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
            },
            "parameters": _PARAMETERS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API token from `flask users token USERNAME`, "
                                              "sent as `Authorization: Bearer <token>`."},
            },
        },
    }
    # A copy: the schemas above are shared module constants a caller must not change.
    return copy.deepcopy(document)

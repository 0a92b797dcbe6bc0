"""OGC API – Features under /ogc: streets, communities, items and pinned comments for GIS.

Part 1 (requirement classes core, GeoJSON, HTML, OpenAPI 3.0) and Part 2 (CRS by
reference). A view checks the query string with :mod:`geo.ogcapi` (an unknown or
repeated parameter is refused, so a typo never passes for "no filter"), reads
through :mod:`renovation.ogc_collections` and answers in JSON or HTML, chosen by
``f`` or else by the Accept header. A page of GeoJSON in CRS84 goes out as the text
:meth:`~renovation.ogc_collections.Collection.page` gives, never parsed into Python;
HTML and other CRSs work on dictionaries. Errors are OGC exceptions
(``{"code", "description"}``) in JSON, or the error page in HTML. Read-only and
public, like the maps.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from geo.ogcapi import (
    CRS84,
    GEOJSON,
    GREGORIAN,
    HTML,
    JSON,
    OPENAPI_JSON,
    SCHEMA_JSON,
    OgcApiError,
    content_crs,
    link,
    page_links,
    parse_bbox,
    parse_crs,
    parse_datetime,
    parse_limit,
    parse_offset,
    rfc3339,
    transform_geometries,
    with_query,
)
from renovation.errors import DomainError
from renovation.i18n import locale_code
from renovation.ogc_collections import (
    COLLECTIONS,
    CRSS,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    STORAGE_CRS,
    Collection,
    FeatureQuery,
    Page,
    conformance_classes,
    feature_schema,
    openapi_document,
    queryables_schema,
    to_json,
)
from renovation.overview import MAX_ID
from renovation.web import db_session, discard_session, whole_number

LOGGER = logging.getLogger(__name__)

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

FORMATS = ("json", "html")
COMMON_PARAMETERS = ("f", "lang")
ITEMS_PARAMETERS = ("bbox", "bbox-crs", "datetime", "limit", "offset", "crs")
REL_CONFORMANCE = "http://www.opengis.net/def/rel/ogc/1.0/conformance"
REL_DATA = "http://www.opengis.net/def/rel/ogc/1.0/data"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
ERROR_CODES = {400: "InvalidParameterValue", 404: "NotFound", 405: "MethodNotAllowed",
               500: "ServerError"}


# --- Request parsing ------------------------------------------------------------------------------

def _check_parameters(*allowed: str) -> None:
    """Refuse parameters the resource does not know, and any given twice."""
    for name, values in request.args.lists():
        if name not in allowed:
            raise OgcApiError(name, "unknown parameter; this resource takes "
                                    + ", ".join(sorted(allowed)))
        if len(values) > 1:
            raise OgcApiError(name, "given more than once")


def _wants_html(*json_types: str) -> bool:
    """HTML or JSON: ``f`` decides, else the Accept header; JSON when in doubt."""
    f = request.args.get("f")
    if f is not None:
        if f not in FORMATS:
            raise OgcApiError("f", "must be one of " + ", ".join(FORMATS))
        return f == "html"
    return request.accept_mimetypes.best_match([*(json_types or (JSON,)), HTML]) == HTML


def _collection(collection_id: str) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise DomainError(_("There is no collection called %(id)s.", id=collection_id),
                          status=404) from None


# --- Responses ------------------------------------------------------------------------------------

def _url(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


def _json(body: dict, content_type: str = JSON, headers: dict | None = None):
    return _response(to_json(body), content_type, headers)


def _response(text: str, content_type: str, headers: dict | None = None):
    response = current_app.response_class(text, content_type=content_type)
    response.headers.update(headers or {})
    return response


def _self_links(endpoint: str, json_type: str = JSON, html: bool = False, **values) -> list:
    """self and alternate links for a resource seen as HTML or as JSON."""
    as_json = link(_url(endpoint, f="json", **values), "self", json_type, _("This document"))
    as_html = link(_url(endpoint, f="html", **values), "self", HTML, _("This page"))
    if html:
        return [as_html, {**as_json, "rel": "alternate", "title": _("This document as JSON")}]
    return [as_json, {**as_html, "rel": "alternate", "title": _("This document as HTML")}]


def _request_params(f: str) -> list[tuple[str, str]]:
    """The request's query as pairs, with ``f`` set to `f`."""
    return [(k, v) for k, v in request.args.items(multi=True) if k != "f"] + [("f", f)]


def _title() -> str:
    return _("gengxin: renovation of old residential communities")


def _description() -> str:
    return _("Streets, communities, their renovation items and the residents' pinned "
             "comments as OGC API – Features, for QGIS, GDAL and other GIS software.")


# --- Error handling: OGC exceptions in JSON, the error page in HTML -------------------------------

def _error_wants_html() -> bool:
    f = request.args.get("f")
    if f is not None:
        return f == "html"
    return request.accept_mimetypes.best_match([JSON, GEOJSON, HTML]) == HTML


def _error(status: int, description: str):
    discard_session()
    if _error_wants_html():
        return render_template("errors/error.html", status=status, message=description), status
    body = {"code": ERROR_CODES.get(status, "Error"), "description": description}
    return _json(body), status


@bp.errorhandler(OgcApiError)
def parameter_error(error: OgcApiError):
    status = 404 if error.code == "NotFound" else 400
    return _error(status, _("Parameter %(parameter)s: %(reason)s.",
                            parameter=error.parameter, reason=error.reason))


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    return _error(error.status, str(error.message))


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException):
    messages = {404: _("This page does not exist."),
                405: _("This address does not accept that method.")}
    return _error(error.code or 500, messages.get(error.code, error.name))


@bp.errorhandler(Exception)
def unexpected(error: Exception):
    LOGGER.exception("unhandled error on %s", request.path)
    return _error(500, _("Something went wrong on our side. It has been logged."))


# --- Landing page, conformance, API ---------------------------------------------------------------

@bp.get("")
@bp.get("/", endpoint="landing_slash")
def landing():
    _check_parameters(*COMMON_PARAMETERS)
    html = _wants_html()
    links = [
        *_self_links("ogc.landing", html=html),
        link(_url("ogc.api"), "service-desc", OPENAPI_JSON, _("The API definition (OpenAPI 3.0)")),
        link(_url("ogc.api", f="html"), "service-doc", HTML, _("The API documentation")),
        link(_url("ogc.conformance", f="json"), "conformance", JSON, _("Conformance classes")),
        link(_url("ogc.conformance", f="json"), REL_CONFORMANCE, JSON, _("Conformance classes")),
        link(_url("ogc.collections", f="json"), "data", JSON, _("The collections")),
        link(_url("ogc.collections", f="json"), REL_DATA, JSON, _("The collections")),
    ]
    if html:
        return render_template("ogc/landing.html", title=_title(), description=_description(),
                               links=links, collections=COLLECTIONS.values())
    return _json({"title": _title(), "description": _description(), "links": links})


@bp.get("/conformance")
def conformance():
    _check_parameters(*COMMON_PARAMETERS)
    html = _wants_html()
    classes = conformance_classes()
    if html:
        return render_template("ogc/conformance.html", classes=classes,
                               links=_self_links("ogc.conformance", html=True))
    return _json({"conformsTo": classes, "links": _self_links("ogc.conformance")})


@bp.get("/api")
def api():
    _check_parameters(*COMMON_PARAMETERS)
    html = _wants_html(OPENAPI_JSON, JSON)
    document = openapi_document(_url("ogc.landing"), _title(), _description())
    if html:
        return render_template("ogc/api.html", document=document,
                               links=_self_links("ogc.api", OPENAPI_JSON, html=True))
    return _json(document, OPENAPI_JSON)


# --- Collections ----------------------------------------------------------------------------------

def _collection_body(collection: Collection) -> dict:
    extent = collection.extent(db_session())
    body = {
        "id": collection.id,
        "title": str(collection.title),
        "description": str(collection.description),
        "links": [
            link(_url("ogc.collection", collection_id=collection.id, f="json"), "self", JSON,
                 _("This collection")),
            link(_url("ogc.collection", collection_id=collection.id, f="html"), "alternate",
                 HTML, _("This collection as HTML")),
            link(_url("ogc.items", collection_id=collection.id, f="json"), "items", GEOJSON,
                 _("The features as GeoJSON")),
            link(_url("ogc.items", collection_id=collection.id, f="html"), "items", HTML,
                 _("The features as HTML")),
            link(_url("ogc.schema", collection_id=collection.id), "describedby", SCHEMA_JSON,
                 _("The schema of the features")),
            link(_url("ogc.queryables", collection_id=collection.id), REL_QUERYABLES,
                 SCHEMA_JSON, _("The properties to filter on")),
        ],
        "itemType": "feature",
        "crs": list(CRSS),
        "storageCrs": STORAGE_CRS,
    }
    spatial_temporal = {}
    if extent.bbox is not None:
        spatial_temporal["spatial"] = {"bbox": [list(extent.bbox)], "crs": CRS84}
    if extent.interval is not None:
        spatial_temporal["temporal"] = {"interval": [[rfc3339(v) for v in extent.interval]],
                                        "trs": GREGORIAN}
    if spatial_temporal:
        body["extent"] = spatial_temporal
    return body


@bp.get("/collections")
def collections():
    _check_parameters(*COMMON_PARAMETERS)
    html = _wants_html()
    bodies = [_collection_body(c) for c in COLLECTIONS.values()]
    links = _self_links("ogc.collections", html=html)
    if html:
        return render_template("ogc/collections.html", collections=bodies, links=links)
    return _json({"links": links, "collections": bodies})


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    found = _collection(collection_id)
    _check_parameters(*COMMON_PARAMETERS)
    html = _wants_html()
    body = _collection_body(found)
    if html:
        return render_template("ogc/collection.html", collection=body, definition=found,
                               links=body["links"])
    return _json(body)


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    found = _collection(collection_id)
    _check_parameters(*COMMON_PARAMETERS)
    if request.args.get("f", "json") != "json":
        raise OgcApiError("f", "this resource is JSON Schema only: use json")
    schema_id = _url("ogc.queryables", collection_id=found.id)
    return _json(queryables_schema(found, schema_id), SCHEMA_JSON)


@bp.get("/collections/<collection_id>/schema")
def schema(collection_id: str):
    found = _collection(collection_id)
    _check_parameters(*COMMON_PARAMETERS)
    if request.args.get("f", "json") != "json":
        raise OgcApiError("f", "this resource is JSON Schema only: use json")
    schema_id = _url("ogc.schema", collection_id=found.id)
    return _json(feature_schema(found, schema_id=schema_id), SCHEMA_JSON)


# --- Features -------------------------------------------------------------------------------------

def _feature_query(found: Collection) -> FeatureQuery:
    args = request.args
    bbox_crs = parse_crs(args.get("bbox-crs"), CRSS, parameter="bbox-crs")
    bboxes = tuple(parse_bbox(args["bbox"], bbox_crs)) if "bbox" in args else ()
    interval = parse_datetime(args["datetime"]) if "datetime" in args else None
    filters = tuple((name, queryable.parse(args[name]))
                    for name, queryable in found.queryables.items() if name in args)
    return FeatureQuery(bboxes, interval, filters)


def _in_crs(features: list[dict], crs: str) -> list[dict]:
    geometries = transform_geometries([f["geometry"] for f in features], crs)
    return [{**f, "geometry": g} for f, g in zip(features, geometries, strict=True)]


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    found = _collection(collection_id)
    _check_parameters(*COMMON_PARAMETERS, *ITEMS_PARAMETERS, *found.queryables)
    html = _wants_html(GEOJSON, JSON)
    limit = parse_limit(request.args.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    offset = parse_offset(request.args.get("offset"))
    crs = parse_crs(request.args.get("crs"), CRSS)
    query = _feature_query(found)
    session = db_session()
    if html or crs != STORAGE_CRS:  # dictionaries: rows of a table, or coordinates to move
        features = _in_crs(found.features(session, query, limit=limit, offset=offset,
                                          lang=locale_code()), crs)
        page = Page("" if html else ",".join(to_json(f) for f in features), len(features),
                    found.matched(session, query, limit=limit, offset=offset,
                                  returned=len(features)))
    else:  # GeoJSON as stored: the database's text goes out unparsed
        page = found.page(session, query, limit=limit, offset=offset, lang=locale_code())
    url = _url("ogc.items", collection_id=found.id)
    form = "html" if html else "json"
    own_type = HTML if html else GEOJSON
    other_type, other = (GEOJSON, "json") if html else (HTML, "html")
    links = [
        link(with_query(url, _request_params(form)), "self", own_type, _("This page")),
        link(with_query(url, _request_params(other)), "alternate", other_type,
             _("This page as GeoJSON") if html else _("This page as HTML")),
        link(_url("ogc.collection", collection_id=found.id, f=form), "collection",
             HTML if html else JSON, _("The collection")),
        *page_links(url, _request_params(form), offset=offset, limit=limit,
                    returned=page.returned, matched=page.matched, type_=own_type,
                    titles=(_("Next page"), _("Previous page"))),
    ]
    if html:
        return render_template("ogc/items.html", collection=found, features=features,
                               matched=page.matched, offset=offset, links=links,
                               by_rel={lk["rel"]: lk for lk in links})
    body = {"type": "FeatureCollection", "features": None, "numberMatched": page.matched,
            "numberReturned": page.returned, "timeStamp": rfc3339(dt.datetime.now(dt.UTC)),
            "links": links}
    # The features' text goes in unparsed, in the place of the null (the first key after type).
    head, _null, tail = to_json(body).partition('"features":null')
    return _response(f'{head}"features":[{page.features_json}]{tail}', GEOJSON,
                     {"Content-Crs": content_crs(crs)})


@bp.get("/collections/<collection_id>/items/<feature_id>")
def feature(collection_id: str, feature_id: str):
    found = _collection(collection_id)
    _check_parameters(*COMMON_PARAMETERS, "crs")
    html = _wants_html(GEOJSON, JSON)
    crs = parse_crs(request.args.get("crs"), CRSS)
    number = whole_number(feature_id, maximum=MAX_ID)
    one = found.feature(db_session(), number, lang=locale_code()) if number else None
    if one is None:
        raise DomainError(_("There is no feature %(id)s in %(collection)s.", id=feature_id,
                            collection=found.id), status=404)
    one = _in_crs([one], crs)[0]
    values = {"collection_id": found.id, "feature_id": one["id"]}
    extra = {k: request.args[k] for k in ("crs", "lang") if k in request.args}
    links = [
        *_self_links("ogc.feature", GEOJSON, html=html, **values, **extra),
        link(_url("ogc.collection", collection_id=found.id, f="html" if html else "json"),
             "collection", HTML if html else JSON, _("The collection")),
    ]
    if html:
        return render_template("ogc/feature.html", collection=found, feature=one, links=links)
    return _json({**one, "links": links}, GEOJSON, {"Content-Crs": content_crs(crs)})


@bp.get("/<path:rest>")
def unknown(rest: str):
    """Any other address under /ogc: a 404 in the OGC form, not the site's."""
    raise DomainError(_("This page does not exist."), status=404)

"""The JSON API for renovation items: read, change (with versions), history, and its OpenAPI.

Reading is public, like the pages. A change needs ``Authorization: Bearer <token>`` and
names the version it is based on; who may change what, and which moves are allowed, is
decided by :mod:`renovation.workflow`. The shapes here are documented, and tested, in
:mod:`renovation.openapi`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from types import SimpleNamespace

from flask import Blueprint, jsonify, request, url_for
from flask_babel import gettext as _
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping

from renovation import item_updates, openapi, workflow
from renovation.catalogue import BY_CODE
from renovation.errors import DomainError
from renovation.i18n import locale_code
from renovation.models import ItemChange, RenovationItem
from renovation.web import db_session
from renovation.web.auth import current_user

bp = Blueprint("api_items", __name__, url_prefix="/api")

#: The fields a change may have; anything else is refused, so a typo is never ignored.
CHANGE_FIELDS = ("version", "status", "progress", "note", "date")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_REALM = 'Bearer realm="gengxin"'


# --- Representations ----------------------------------------------------------------------

def _iso_datetime(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC with its offset; SQLite hands back the stored UTC time without one."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


def _iso_date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def item_json(item: RenovationItem, lang: str) -> dict:
    """The item as ``GET /api/items/<id>`` answers (schema ``Item``)."""
    community = item.community
    return _item_body(item, community.name, community.street.code, lang)


def row_json(row, lang: str) -> dict:
    """:func:`item_json` of a row of :func:`renovation.item_updates.item_with_place`."""
    return _item_body(row, row.community_name, row.street_code, lang)


def _item_body(item, community_name: str, street_code: str, lang: str) -> dict:
    """Schema ``Item`` from anything with the item's column names as attributes."""
    kind = BY_CODE.get(item.kind)
    return {
        "id": item.id,
        "community_id": item.community_id,
        "community_name": community_name,
        "street_code": street_code,
        "kind": item.kind,
        "kind_name": kind.name(lang) if kind else item.kind,
        "title": item.title,
        "status": item.status.value,
        "status_label": item.status.label(lang),
        "progress": item.progress_pct,
        "quantity": item.quantity,
        "unit": item.unit or (kind.unit(lang) if kind else None),
        "planned_start": _iso_date(item.planned_start),
        "planned_end": _iso_date(item.planned_end),
        "actual_start": _iso_date(item.actual_start),
        "actual_end": _iso_date(item.actual_end),
        "version": item.version,
        "updated_at": _iso_datetime(item.updated_at),
        "geometry": mapping(to_shape(item.geometry)) if item.geometry is not None else None,
        "allowed_next_statuses": [s.value for s in workflow.next_statuses(item.status)],
        "url": url_for("items.item_page", item_id=item.id),
    }


def change_json(change: ItemChange) -> dict:
    """One history row (schema ``Change``)."""
    return {
        "id": change.id,
        "changed_at": _iso_datetime(change.changed_at),
        "effective_date": change.effective_date.isoformat(),
        "user": {"username": change.user.username, "display_name": change.user.display_name},
        "status_before": change.status_before.value,
        "status_after": change.status_after.value,
        "progress_before": change.progress_before,
        "progress_after": change.progress_after,
        "note": change.note,
        "version_after": change.version_after,
        "source": change.source,
        "photos": [url_for("items.photo", photo_id=photo.id) for photo in change.photos],
    }


# --- Reading the request ------------------------------------------------------------------

def _sent_bearer() -> bool:
    return request.headers.get("Authorization", "").partition(" ")[0].lower() == "bearer"


def _token_user():
    """The user of the request's bearer token; 401 without a live token."""
    _bearer_token()  # none sent: 401 saying how to send one
    user = current_user()  # reads the same header, and keeps the user for the request
    if user is None:
        raise DomainError(_("The API token is not valid or has been revoked."), status=401)
    return user


def _bearer_token() -> str:
    """The request's bearer token; 401 saying how to send one if there is none."""
    scheme, _sep, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":  # the scheme name is case-insensitive (RFC 7235)
        raise DomainError(_("This needs an API token: send the header "
                            "Authorization: Bearer <token>."), status=401)
    return credentials.strip()


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")  # Python's json would read NaN and Infinity


def _json_object() -> dict:
    """The request body as a JSON object, or 415/400 saying what is wrong with it."""
    if request.mimetype != "application/json":
        raise DomainError(_("Send the change as JSON with the header "
                            "Content-Type: application/json."), status=415)
    try:
        body = json.loads(request.get_data(cache=False), parse_constant=_not_json)
    except (ValueError, RecursionError):  # RecursionError: "[[[[...]]]]" nested too deep
        raise DomainError(_("The body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise DomainError(_('The body must be a JSON object, e.g. {"version": 3, '
                            '"progress": 40}.'))
    unknown = [str(name)[:40] for name in body if name not in CHANGE_FIELDS]
    if unknown:
        raise DomainError(_("Unknown field(s): %(names)s. A change may have: %(allowed)s.",
                            names=", ".join(unknown[:10]), allowed=", ".join(CHANGE_FIELDS)),
                          details={"fields": unknown[:10]})
    return body


def _whole(value) -> int | None:
    """`value` as an int if it is a JSON number without a fraction, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def _text(value, field: str) -> str:
    """`value` if it is text the database can store; NUL and lone surrogates are refused."""
    if "\x00" in value:
        raise DomainError(_("The request contains a NUL character."),
                          details={"fields": [field]})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DomainError(_("The request contains text that is not valid Unicode."),
                          details={"fields": [field]}) from None
    return value


def _parse_field(field: str, value):
    """One field of a change, checked for its JSON type; DomainError names the field."""
    if field == "version":
        number = _whole(value)
        if number is None:
            raise DomainError(_("The version must be a whole number."))
        return workflow.parse_version(number)
    if field == "status":
        return workflow.parse_status(_text(value, field) if isinstance(value, str)
                                     else json.dumps(value))
    if field == "progress":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DomainError(_("Progress must be a number from 0 to 100, not %(value)s.",
                                value=json.dumps(value)[:40]))
        if isinstance(value, int) and not 0 <= value <= 100:
            # float() of a 400-digit int overflows inside parse_progress: refuse it here.
            raise DomainError(_("Progress must be a whole number from 0 to 100, not "
                                "%(value)s.", value=str(value)[:40]))
        return workflow.parse_progress(value)
    if field == "note":
        if not isinstance(value, str):
            raise DomainError(_("The note must be text."))
        return _text(value, field)
    if field == "date":
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
            raise DomainError(_("The date must look like 2026-05-31."))
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise DomainError(_("The date must look like 2026-05-31.")) from None
    raise AssertionError(field)


def _change_request(body: dict) -> workflow.ChangeRequest:
    if body.get("version") is None:
        raise DomainError(_("Say which version of the item your change is based on."),
                          details={"fields": ["version"]})
    values = {}
    for field in CHANGE_FIELDS:
        if body.get(field) is None:
            continue  # left out or null: keep what the item has
        try:
            values[field] = _parse_field(field, body[field])
        except DomainError as error:
            error.details = error.details or {"fields": [field]}
            raise
    return workflow.ChangeRequest(version=values["version"], status=values.get("status"),
                                  progress=values.get("progress"), note=values.get("note", ""),
                                  effective_date=values.get("date"))


# --- Views --------------------------------------------------------------------------------

@bp.after_request
def _challenge(response):
    # RFC 6750: a 401 says which scheme to use, and whether the token sent was the problem.
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = (_REALM + ', error="invalid_token"'
                                                if _sent_bearer() else _REALM)
    return response


@bp.get("/items/<int:item_id>")
def get_item(item_id: int):
    item = item_updates.item_with_place(db_session().connection(), item_id)
    return jsonify(row_json(item, locale_code()))


@bp.patch("/items/<int:item_id>")
def change_item(item_id: int):
    session = db_session()
    connection = session.connection()
    user, item = item_updates.author_and_item(connection, _bearer_token(), item_id)
    # Who may change the item is answered before the body is looked at, as on the page.
    workflow.require_edit_in(user, item.street_id)
    change_request = _change_request(_json_object())
    try:
        applied = item_updates.apply_change(connection, user, item, change_request,
                                            source="api")
    except workflow.Conflict as conflict:
        # Nothing was written. The state as it is now, read again in this transaction
        # (another change may have committed since `item` was read).
        current = item_updates.item_with_place(connection, item_id)
        error = {"status": conflict.status, "message": str(conflict.message)}
        return jsonify({"error": error, "current": row_json(current, locale_code())}), 409
    session.commit()
    body = row_json(SimpleNamespace(**{**item._asdict(), **applied.fields}), locale_code())
    body["change_id"] = applied.change_id
    return jsonify(body)


@bp.get("/items/<int:item_id>/history")
def item_history(item_id: int):
    session = db_session()
    item = workflow.get_item(session, item_id)
    changes = workflow.history_of(session, item.id)
    return jsonify({"item_id": item.id, "changes": [change_json(c) for c in changes]})


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.build_document(server_url=request.script_root + "/api"))

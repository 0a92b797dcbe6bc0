"""Spreadsheet round-trip of a street's items: download as XLSX or CSV, upload changes."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _

from renovation import overview, spreadsheet
from renovation.errors import DomainError
from renovation.i18n import locale_code
from renovation.models import Role, Street, User
from renovation.web import db_session
from renovation.web.auth import current_user, login_required, roles_required

bp = Blueprint("spreadsheets", __name__)

FORMATS = {"xlsx": spreadsheet.XLSX_MIMETYPE, "csv": spreadsheet.CSV_MIMETYPE + "; charset=utf-8"}


def _street_of(code: str, user: User, message: str) -> Street:
    """The street called `code`, if `user` may work with it (an official only their own)."""
    street = overview.get_street(db_session(), code)
    if user.role is Role.OFFICIAL and user.street_id != street.id:
        raise DomainError(message, status=403)
    return street


@bp.get("/streets/<code>/items.<format>")
@roles_required(Role.OFFICIAL, Role.ADMIN, Role.PLANNER)
def download(code: str, format: str):
    if format not in FORMATS:
        abort(404)
    street = _street_of(code, current_user(),
                        _("You may download only the items of your own street."))
    rows = spreadsheet.export_rows(db_session(), street, locale=locale_code())
    if format == "xlsx":
        body = spreadsheet.write_xlsx(rows, locale_code())
    else:
        body = spreadsheet.write_csv(rows)
    filename = f"{street.code}-items-{dt.date.today().isoformat()}.{format}"
    response = Response(body, mimetype=FORMATS[format])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/streets/<code>/items/upload", methods=["GET", "POST"])
@login_required
def upload(code: str):
    user = current_user()
    if user.role not in (Role.OFFICIAL, Role.ADMIN):
        raise DomainError(_("Only the street's officials and administrators may upload "
                            "changes from a spreadsheet."), status=403)
    street = _street_of(code, user, _("You may upload changes only for your own street."))
    if request.method == "GET":
        return render_template("spreadsheets/upload.html", street=street)
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _form_error(street, _("Choose a file to upload."), 400)
    data = upload_file.read(spreadsheet.MAX_UPLOAD_BYTES + 1)
    try:
        rows = spreadsheet.read_upload(data, upload_file.filename)
    except DomainError as error:
        return _form_error(street, str(error.message), error.status)
    session = db_session()
    result = spreadsheet.apply_upload(session, user, rows, today=dt.date.today(),
                                      street=street)
    if result.ok:
        session.commit()
        status = 200
    else:
        session.rollback()
        status = 409 if result.only_stale else 400
    return render_template("spreadsheets/result.html", street=street, result=result,
                           filename=upload_file.filename), status


def _form_error(street: Street, message: str, status: int):
    return render_template("spreadsheets/upload.html", street=street, error=message), status

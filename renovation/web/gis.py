"""Import and export of GIS files and spreadsheets, for planners."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _

from renovation import importing
from renovation.errors import DomainError
from renovation.models import Role, User
from renovation.web import db_session
from renovation.web.auth import current_user, roles_required

bp = Blueprint("gis", __name__)


# === Import: GIS files in (planners and admins) =============================================
#
# POST /import reads and checks the file and shows the preview (the dry run); a file with
# no errors is kept in the instance folder under a random token, for one hour and for the
# user who uploaded it. POST /import/apply claims the token (an atomic rename, so a double
# click applies once), re-reads the file, checks it again against the database as it is
# now and applies it in one transaction. The file never leaves the server in between.

IMPORT_ROLES = (Role.PLANNER, Role.ADMIN)
PENDING_TTL_S = 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
#: What the form offers for the coordinate system; "other" takes an EPSG code typed in.
CRS_CHOICES = ("auto", "4326", "4490", "gcj02", "3857", "4547", "4548", "2436", "other")


def _pending_folder() -> Path:
    return Path(current_app.instance_path) / "imports"


@bp.url_value_preprocessor
def _allow_large_import(endpoint, _values):
    # CSRF protection parses the form in a before_request hook, before the view runs, so
    # the import's own size limit must be set earlier: here. A body far over it is
    # refused at once, before it is read.
    if endpoint != "gis.import_file" or request.method != "POST":
        return
    limit = importing.limits_from_config().max_bytes + 1024 * 1024  # room for the fields
    if request.content_length is not None and request.content_length > limit:
        raise DomainError(_("The file is too large: at most %(mb)d MB can be imported.",
                            mb=max(1, (limit - 1024 * 1024) // 2**20)), status=413)
    request.max_content_length = limit


def _crs_text(form) -> str | None:
    choice = form.get("crs", "auto")
    if choice == "other":
        return form.get("crs_other", "").strip()[:40] or "other"
    return choice if choice in CRS_CHOICES else choice[:40]


def _import_form(error: str | None = None, status: int = 200, form=None):
    return render_template("gis/import.html", error=error, form=form or {},
                           layers=importing.LAYERS, crs_choices=CRS_CHOICES,
                           limits=importing.limits_from_config()), status


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*IMPORT_ROLES)
def import_file():
    if request.method == "GET":
        return _import_form()
    limits = importing.limits_from_config()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_form(_("Choose a file to import."), 400, request.form)
    data = upload.read(limits.max_bytes + 1)
    filename = upload.filename.replace("\x00", "")[:200]
    layer, crs = request.form.get("layer", ""), _crs_text(request.form)
    try:
        gisfile = importing.read_import_file(data, filename=filename, layer=layer, crs=crs,
                                             limits=limits)
    except DomainError as error:
        return _import_form(str(error.message), error.status, request.form)
    session = db_session()
    plan = importing.check_import(session, gisfile, layer=layer, filename=filename)
    session.rollback()
    has_work = plan.report.ok and (plan.report.new or plan.report.updated)
    token = _keep_pending(data, current_user(), layer, crs, filename) if has_work else None
    return render_template("gis/import_preview.html", report=plan.report, token=token,
                           bounds=importing.format_bounds), 200 if plan.report.ok else 422


@bp.post("/import/apply")
@roles_required(*IMPORT_ROLES)
def import_apply():
    pending = _claim_pending(request.form.get("token", ""), current_user())
    try:
        gisfile = importing.read_import_file(pending.data, filename=pending.filename,
                                             layer=pending.layer, crs=pending.crs)
        session = db_session()
        plan = importing.check_import(session, gisfile, layer=pending.layer,
                                      filename=pending.filename)
        if not plan.report.ok:
            session.rollback()
            return render_template("gis/import_preview.html", report=plan.report, token=None,
                                   bounds=importing.format_bounds), 422
        try:
            report = importing.apply_import(session, plan)
            session.commit()
        except sa.exc.IntegrityError:
            session.rollback()
            raise DomainError(importing.CONFLICT_MESSAGE, status=409) from None
    finally:
        pending.path.unlink(missing_ok=True)
    return render_template("gis/import_result.html", report=report,
                           bounds=importing.format_bounds)


@dataclass
class _Pending:
    path: Path
    data: bytes
    layer: str
    crs: str | None
    filename: str


def _keep_pending(data: bytes, user: User, layer: str, crs: str | None, filename: str) -> str:
    """Store a checked upload for the apply step; return its token."""
    folder = _pending_folder()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _forget_old_pending(folder)
    token = secrets.token_urlsafe(32)
    meta = {"user_id": user.id, "layer": layer, "crs": crs, "filename": filename,
            "created": time.time(), "sha256": hashlib.sha256(data).hexdigest()}
    upload = folder / f"{token}.upload"
    descriptor = os.open(upload, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    (folder / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return token


def _forget_old_pending(folder: Path) -> None:
    cutoff = time.time() - PENDING_TTL_S
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def _claim_pending(token: str, user: User) -> _Pending:
    """The upload kept under `token`, taken so that no second request can apply it."""
    gone = DomainError(_("This preview has expired or has already been imported. Upload the "
                         "file again."), status=410)
    if not _TOKEN.fullmatch(token or ""):
        raise DomainError(_("The form has no valid preview to import. Upload the file again."))
    folder = _pending_folder()
    meta_path = folder / f"{token}.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise gone from None
    if meta.get("user_id") != user.id or time.time() - meta.get("created", 0) > PENDING_TTL_S:
        raise gone
    claimed = folder / f"{token}.applying"
    try:
        os.rename(folder / f"{token}.upload", claimed)
    except OSError:
        raise gone from None
    meta_path.unlink(missing_ok=True)
    data = claimed.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        claimed.unlink(missing_ok=True)
        raise gone
    return _Pending(claimed, data, meta["layer"], meta.get("crs"), meta.get("filename", ""))


# === End of import ==========================================================================


# === Export: GIS files and spreadsheets out (public, like the maps) ===========================
#
# GET /export?layer=streets|communities|items&format=geojson|gpkg|shp|csv|xlsx plus the
# filters of renovation.filters (street, kind, status, built_from, built_to, pilot, overdue).

@bp.get("/export")
def export():
    return export_response(request.args.get("layer", ""), request.args.get("format", ""))


def export_response(layer: str, fmt: str):
    """The export of `layer` in `fmt` that the request's filters select, as a download."""
    from flask import Response

    from renovation import exporting
    from renovation.filters import Filters

    result = exporting.export(db_session(), layer, fmt, Filters.from_args(request.args))
    response = Response(result.data, content_type=result.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response.headers["Cache-Control"] = "no-cache"
    return response

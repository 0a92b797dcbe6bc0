"""Officials' pages: the list of their street's items, an item with its history, changing it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from renovation import photos, workflow, worklist
from renovation.catalogue import BY_CODE, KINDS
from renovation.errors import DomainError
from renovation.i18n import locale_code
from renovation.models import ChangePhoto, Role
from renovation.status import Status
from renovation.web import db_session, whole_number
from renovation.web.auth import current_user, roles_required, safe_next

bp = Blueprint("items", __name__)


def photo_folder() -> Path:
    return Path(current_app.instance_path) / "photos"


def _filters() -> worklist.Filters:
    args = request.args
    status = args.get("status") or None
    if status is not None and status not in {s.value for s in Status}:
        raise DomainError(_("Unknown status: %(value)s.", value=status[:40]))
    kind = args.get("kind") or None
    if kind is not None and kind not in BY_CODE:
        raise DomainError(_("Unknown item kind: %(kinds)s.", kinds=kind[:40]))
    return worklist.Filters(street_code=args.get("street") or None,
                            status=Status(status) if status else None, kind=kind,
                            overdue=args.get("overdue") == "1", text=args.get("q", "")[:100],
                            page=whole_number(args.get("page"), maximum=100_000) or 1)


@bp.get("/my/items", endpoint="worklist")
@roles_required(Role.OFFICIAL, Role.ADMIN, Role.PLANNER)
def worklist_page():
    user = current_user()
    result = worklist.worklist(db_session(), user, _filters())
    return render_template("items/worklist.html", result=result, filters=request.args,
                           kinds=KINDS, statuses=list(Status), catalogue=BY_CODE,
                           can_edit=lambda item: workflow.can_edit(user, item),
                           next_statuses=workflow.next_statuses, today=dt.date.today())


def _item_page(item_id: int, *, error: str | None = None, status: int = 200, form=None):
    session = db_session()
    item = workflow.get_item(session, item_id)
    user = current_user()
    return render_template(
        "items/item.html", item=item, kind=BY_CODE.get(item.kind),
        history=workflow.history_of(session, item.id), can_edit=workflow.can_edit(user, item),
        next_statuses=workflow.next_statuses(item.status), error=error, form=form or {},
        today=dt.date.today(), lang=locale_code()), status


@bp.get("/items/<int:item_id>")
def item_page(item_id: int):
    return _item_page(item_id)


def _change_request() -> workflow.ChangeRequest:
    form = request.form
    status = workflow.parse_status(form["status"]) if form.get("status") else None
    progress = workflow.parse_progress(form["progress"]) if form.get("progress") else None
    day = None
    if form.get("date"):
        try:
            day = dt.date.fromisoformat(form["date"])
        except ValueError:
            raise DomainError(_("The date must look like 2026-05-31.")) from None
    return workflow.ChangeRequest(version=workflow.parse_version(form.get("version")),
                                  status=status, progress=progress,
                                  note=form.get("note", ""), effective_date=day)


@bp.post("/items/<int:item_id>/change")
def change(item_id: int):
    session = db_session()
    user = current_user()
    item = workflow.get_item(session, item_id)
    workflow.require_edit(user, item)
    back = safe_next(request.form.get("next"), url_for("items.item_page", item_id=item_id))
    try:
        change_request = _change_request()
        prepared = photos.prepare_all([(f.filename or "", f.read())
                                       for f in request.files.getlist("photos")])
        change = workflow.change_item(session, user, item_id, change_request, source="web")
        written = workflow.attach_photos(session, change, prepared, photo_folder())
    except workflow.Conflict as conflict:
        session.rollback()
        return _item_page(item_id, error=str(conflict.message), status=409, form=request.form)
    except DomainError as error:
        session.rollback()
        return _item_page(item_id, error=str(error.message), status=error.status,
                          form=request.form)
    try:
        session.commit()
    except Exception:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    flash(_("Saved: %(title)s is now %(status)s, %(progress)s%%.", title=item.title,
            status=change.status_after.label(locale_code()), progress=change.progress_after))
    return redirect(back)


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int):
    if not 0 < photo_id < 2**31:
        abort(404)
    record = db_session().get(ChangePhoto, photo_id)
    if record is None:
        abort(404)
    path = photos.path_of(photo_folder(), record.stored_name)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=86400)
    response.headers["Content-Disposition"] = "inline"
    return response

"""Errors that carry an HTTP status and a message safe to show, and their one handler."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

LOGGER = logging.getLogger(__name__)


class DomainError(Exception):
    """A refusal the user can act on; `message` is already in the user's language."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None, details=None):
        super().__init__(str(message))
        self.message = message
        self.details = details
        if status is not None:
            self.status = status


class NotFound(DomainError):
    status = 404


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _respond(status: int, message: str, details=None):
    from renovation.web import discard_session

    discard_session()
    if wants_json():
        body = {"error": {"status": status, "message": message}}
        if details:
            body["error"]["details"] = details
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def _http_message(error: HTTPException) -> str:
    messages = {
        400: _("The request is not valid."),
        403: _("You may not do this."),
        404: _("This page does not exist."),
        405: _("This address does not accept that method."),
        413: _("The upload is too large."),
        429: _("Too many requests; please wait a moment."),
    }
    return messages.get(error.code, error.name)


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return _respond(error.status, str(error.message), error.details)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _respond(400, _("The form has expired or did not come from this site. "
                               "Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = _respond(error.code or 500, _http_message(error))
        if error.code == 405 and getattr(error, "valid_methods", None):
            # RFC 9110: a 405 says which methods the resource does allow.
            body, status = response
            body = current_app.make_response(body)
            body.status_code = status
            body.headers["Allow"] = ", ".join(sorted(error.valid_methods))
            return body
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        LOGGER.exception("unhandled error on %s", request.path)
        return _respond(500, _("Something went wrong on our side. It has been logged."))

"""The JSON API for sessions, comments, supports, flags and ratings."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api_sessions", __name__, url_prefix="/api")

#: OpenAPI paths and schemas this blueprint adds (merged by renovation.openapi).
OPENAPI_PATHS: dict = {}
OPENAPI_SCHEMAS: dict = {}

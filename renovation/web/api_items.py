"""The JSON API for renovation items: read, change (with versions), history."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api_items", __name__, url_prefix="/api")

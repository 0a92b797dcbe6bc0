"""The JSON API for streets, communities and exports (items are in api_items)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api_data", __name__, url_prefix="/api")

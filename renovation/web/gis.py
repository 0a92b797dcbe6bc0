"""Import and export of GIS files and spreadsheets, for planners."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("gis", __name__)

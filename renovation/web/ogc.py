"""OGC API – Features under /ogc: streets, communities and items for QGIS, GDAL and ArcGIS."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

"""Spreadsheet round-trip of a street's items: download as XLSX or CSV, upload changes."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("spreadsheets", __name__)


@bp.get("/streets/<code>/items.<format>")
def download(code: str, format: str):
    abort(404)


@bp.route("/streets/<code>/items/upload", methods=["GET", "POST"])
def upload(code: str):
    abort(404)

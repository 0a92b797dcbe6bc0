"""gzip for text responses, and long cache lifetimes for static files named by their content.

A map page's HTML, its scripts and stylesheets and the GeoJSON of each view are
text that gzip shrinks four to ten times; behind a phone connection that is most
of the wait. Static files are compressed once and kept in memory (keyed by path,
size and modification time) so a busy server does not compress Leaflet again for
every visitor. A static URL carrying ``?v=<digest of the file>`` (see
:func:`static_url`) names one version of the file forever, so the browser may keep
it for a year without asking again.

Responses already encoded, streamed, partial (206) or small stay as they are.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import threading

from flask import Flask, current_app, request, url_for
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

LOGGER = logging.getLogger(__name__)

COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/plain", "text/csv", "text/javascript",
    "application/javascript", "application/json", "application/geo+json",
    "application/schema+json", "application/openapi+json", "application/xml",
    "image/svg+xml",
})
#: Below this many bytes gzip's header and the CPU cost outweigh the saving.
MIN_BYTES = 512
LEVEL = 6
#: A year: the longest lifetime browsers honour.
IMMUTABLE = "public, max-age=31536000, immutable"


class _StaticCache:
    """Compressed bytes and content digests of static files, by (path, size, mtime)."""

    def __init__(self):
        self._gzip: dict[str, tuple[tuple, bytes]] = {}
        self._digest: dict[str, tuple[tuple, str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _stamp(path: str) -> tuple:
        stat = os.stat(path)
        return stat.st_size, stat.st_mtime_ns

    def gzipped(self, path: str) -> bytes:
        stamp = self._stamp(path)
        with self._lock:
            known = self._gzip.get(path)
        if known and known[0] == stamp:
            return known[1]
        with open(path, "rb") as f:
            data = gzip.compress(f.read(), LEVEL, mtime=0)
        with self._lock:
            self._gzip[path] = (stamp, data)
        return data

    def digest(self, path: str) -> str:
        stamp = self._stamp(path)
        with self._lock:
            known = self._digest.get(path)
        if known and known[0] == stamp:
            return known[1]
        with open(path, "rb") as f:
            value = hashlib.sha256(f.read()).hexdigest()[:12]
        with self._lock:
            self._digest[path] = (stamp, value)
        return value


def _cache(app: Flask) -> _StaticCache:
    return app.extensions["gengxin.static_cache"]


def static_url(filename: str) -> str:
    """URL of a static file with its content digest, so it may be cached for a year.

    Falls back to the plain URL when the file does not exist (a test's fake path).
    """
    path = safe_join(current_app.static_folder, filename)
    if path is None or not os.path.isfile(path):
        return url_for("static", filename=filename)
    return url_for("static", filename=filename, v=_cache(current_app).digest(path))


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def _static_path() -> str | None:
    if request.endpoint != "static" or not request.view_args:
        return None
    path = safe_join(current_app.static_folder, request.view_args.get("filename", ""))
    return path if path and os.path.isfile(path) else None


def compress(response: Response) -> Response:
    """``after_request``: gzip a text response when the client accepts it."""
    static_path = _static_path()
    if static_path and request.args.get("v") and response.status_code in (200, 304):
        response.headers["Cache-Control"] = IMMUTABLE
    if (response.status_code != 200 or "Content-Encoding" in response.headers
            or response.mimetype not in COMPRESSIBLE or request.method == "HEAD"):
        return response
    response.vary.add("Accept-Encoding")
    if not _accepts_gzip():
        return response
    if static_path:
        if os.path.getsize(static_path) < MIN_BYTES:
            return response
        data = _cache(current_app).gzipped(static_path)
        if hasattr(response.response, "close"):
            response.response.close()  # the open file send_file would have streamed
        response.direct_passthrough = False
        etag, weak = response.get_etag()
        if etag:
            response.set_etag(etag + "-gzip", weak=weak)
    else:
        if response.is_streamed or response.direct_passthrough:
            return response
        body = response.get_data()
        if len(body) < MIN_BYTES:
            return response
        data = gzip.compress(body, LEVEL, mtime=0)
    response.set_data(data)
    response.headers["Content-Encoding"] = "gzip"
    return response


def init_app(app: Flask) -> None:
    app.extensions["gengxin.static_cache"] = _StaticCache()
    app.after_request(compress)
    app.jinja_env.globals["static_url"] = static_url  # templates: {{ static_url('css/app.css') }}

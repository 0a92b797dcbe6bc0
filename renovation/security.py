"""Security headers on every response: a strict Content-Security-Policy with a nonce.

All scripts and styles are served by the app (static/vendor), so the policy
allows only 'self' plus one random nonce per response for the inline scripts
our templates and folium write. A script injected through user text has no
nonce and does not run, even if escaping were ever missed.
"""

from __future__ import annotations

import secrets

from flask import Flask, current_app, g, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFProtect

from geo.maps import basemap_hosts
from renovation.errors import DomainError

csrf = CSRFProtect()


def nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(script_nonce: str, tile_hosts: list[str]) -> str:
    images = " ".join(["'self'", "data:", *tile_hosts])
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{script_nonce}'",
        "style-src 'self' 'unsafe-inline'",  # Leaflet positions everything with inline styles
        f"img-src {images}",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


def has_nul(values) -> bool:
    return any("\x00" in value for value in values)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.jinja_env.globals["csp_nonce"] = nonce

    @app.before_request
    def refuse_nul_characters():
        # PostgreSQL cannot store or compare text with NUL; no user means one.
        if has_nul([request.path, *request.args.keys(), *request.args.values()]):
            raise DomainError(_("The request contains a NUL character."))

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if response.mimetype == "text/html":
            hosts = basemap_hosts(current_app.config["BASEMAP"])
            response.headers["Content-Security-Policy"] = content_security_policy(nonce(), hosts)
        return response

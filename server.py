"""The application factory: configuration, extensions, blueprints, error handlers, CLI."""

from __future__ import annotations

import logging
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from renovation import cli, compression, config, errors, i18n, security
from renovation.db import Database
from renovation.security import csrf
from renovation.web import (
    api_data,
    api_items,
    api_map,
    api_sessions,
    auth,
    dashboard,
    gis,
    items,
    ogc,
    pages,
    sessions,
    spreadsheets,
)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults, then the environment, then `test_config`."""
    test_config = test_config or {}
    app = Flask(__name__, instance_relative_config=True, template_folder="templates",
                static_folder="static", instance_path=test_config.get("INSTANCE_PATH"))
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(config.defaults(app.instance_path))
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = config.secret_key(app.instance_path)
    if app.config["BASEMAP"] not in config.BASEMAPS:
        raise ValueError(f"BASEMAP must be one of {', '.join(config.BASEMAPS)}")
    logging.basicConfig(level=logging.INFO)

    if int(app.config.get("TRUSTED_PROXIES", 0)):
        # Behind a reverse proxy, absolute links (OGC API, paging) must use the client's host.
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_prefix=hops)
    app.extensions["gengxin.db"] = Database(app.config["DATABASE_URL"])
    compression.init_app(app)  # gzip and cache lifetimes, after every other after_request
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(items.bp)
    app.register_blueprint(spreadsheets.bp)
    app.register_blueprint(api_map.bp)
    # The JSON API authenticates with bearer tokens only, never the session cookie,
    # so a cross-site form cannot act through it: it needs no CSRF token. OGC API is read-only.
    for blueprint in (dashboard.bp, gis.bp, sessions.bp, ogc.bp):
        app.register_blueprint(blueprint)
    for blueprint in (api_items.bp, api_data.bp, api_sessions.bp):
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)
    cli.init_app(app)
    return app

"""Settings: defaults, then the environment, then a test's overrides (in create_app)."""

from __future__ import annotations

import os
from pathlib import Path

BASEMAPS = ("none", "osm", "tianditu", "amap")


def defaults(instance_path: str) -> dict:
    return {
        "SECRET_KEY": None,  # from the environment, or a file kept in the instance folder
        "DATABASE_URL": f"sqlite:///{Path(instance_path) / 'gengxin.sqlite'}",
        # none: no base map, works offline; osm, tianditu (needs TIANDITU_KEY), amap (GCJ-02).
        "BASEMAP": "none",
        "TIANDITU_KEY": "",
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "LANGUAGES": ("zh", "en"),
        "MAX_FEATURES_PER_REQUEST": 5000,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
        # GIS imports may be larger than other uploads (raised for POST /import only).
        "GIS_IMPORT_MAX_BYTES": 50 * 1024 * 1024,
        "GIS_IMPORT_MAX_FEATURES": 10_000,
        # The programme's name on every page, in Chinese and in English; either stands in
        # for the other, and with neither the pages name the demo's district (石景山区).
        "PROGRAMME_NAME": "",
        "PROGRAMME_NAME_EN": "",
    }


def from_environment() -> dict:
    """Read the settings an operator may set: DATABASE_URL, SECRET_KEY, BASEMAP, TIANDITU_KEY,
    TRUSTED_PROXIES, PROGRAMME_NAME and PROGRAMME_NAME_EN."""
    names = ("DATABASE_URL", "SECRET_KEY", "BASEMAP", "TIANDITU_KEY", "TRUSTED_PROXIES",
             "PROGRAMME_NAME", "PROGRAMME_NAME_EN")
    found = {name: os.environ[name] for name in names if os.environ.get(name)}
    if os.environ.get("SESSION_COOKIE_SECURE", "").lower() in ("1", "true", "yes"):
        found["SESSION_COOKIE_SECURE"] = True
    return found


def secret_key(instance_path: str) -> str:
    """A stable secret for this installation, created once in the instance folder."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()

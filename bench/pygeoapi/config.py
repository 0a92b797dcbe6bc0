"""pygeoapi's configuration for one database and port, written from ``config.yml.in``.

pygeoapi reads its configuration and its OpenAPI document from files named by
``PYGEOAPI_CONFIG`` and ``PYGEOAPI_OPENAPI``; :func:`write` makes both and returns
those variables for the server's environment.
"""

from __future__ import annotations

import json
import string
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

TEMPLATE = Path(__file__).resolve().parent / "config.yml.in"


def render(database_url: str, port: int) -> str:
    """The configuration text serving `database_url`'s communities on `port`."""
    url = make_url(database_url)
    # JSON strings are YAML strings: whatever a password holds stays one value.
    values = {"port": int(port), "db_port": int(url.port or 5432),
              "host": json.dumps(url.host or "127.0.0.1"), "dbname": json.dumps(url.database),
              "user": json.dumps(url.username or "postgres"),
              "password": json.dumps(url.password or "")}
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def write(database_url: str, port: int, directory: Path, python: Path) -> dict[str, str]:
    """Write the configuration and its OpenAPI document into `directory`; the environment
    variables pointing pygeoapi (run by `python`) at them."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "pygeoapi-config.yml"
    openapi = directory / "pygeoapi-openapi.yml"
    config.write_text(render(database_url, port), encoding="utf-8")
    env = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
    pygeoapi = Path(python).parent / "pygeoapi"
    subprocess.run([pygeoapi, "openapi", "generate", config, "--output-file", openapi],
                   check=True, capture_output=True, env={**env, "PATH": str(Path(python).parent)})
    return env

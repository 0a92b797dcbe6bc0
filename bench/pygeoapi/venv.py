"""Build pygeoapi's own virtual environment from PyPI: ``python -m bench.pygeoapi.venv``.

pygeoapi, the packages its PostgreSQL provider imports (psycopg2, GeoAlchemy2) and
the same gunicorn version the app runs under, so both servers differ only in the
application they serve. The environment uses the interpreter that runs this
script (the app's Python), and pip picks the newest pygeoapi that supports it.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import gunicorn

VENV = Path(__file__).resolve().parent.parent / ".venv-pygeoapi"
#: What pygeoapi's PostgreSQL provider needs besides pygeoapi itself.
PACKAGES = ("pygeoapi", "psycopg2-binary", "GeoAlchemy2", f"gunicorn=={gunicorn.__version__}")


def python(venv_dir: Path = VENV) -> Path:
    return venv_dir / "bin" / "python"


def is_ready(venv_dir: Path = VENV) -> bool:
    """Tell whether the environment exists and imports pygeoapi's PostgreSQL provider."""
    if not python(venv_dir).exists():
        return False
    check = subprocess.run([python(venv_dir), "-c", "import gunicorn, pygeoapi, "
                            "pygeoapi.provider.sql"], capture_output=True)
    return check.returncode == 0


def ensure_venv(venv_dir: Path = VENV) -> Path:
    """The environment's python, building the environment first if it is missing or broken."""
    if is_ready(venv_dir):
        return python(venv_dir)
    print(f"building pygeoapi's virtual environment in {venv_dir} (pip, from PyPI)...",
          file=sys.stderr, flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    subprocess.run([python(venv_dir), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                   check=True)
    subprocess.run([python(venv_dir), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    if not is_ready(venv_dir):
        raise RuntimeError(f"{venv_dir} was built but cannot import pygeoapi's PostgreSQL "
                           "provider; delete it and look at pip's output")
    return python(venv_dir)


def version(venv_dir: Path = VENV) -> str:
    """The installed pygeoapi's version."""
    return subprocess.run([python(venv_dir), "-c", "import pygeoapi; print(pygeoapi.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


if __name__ == "__main__":
    print(ensure_venv(), version())

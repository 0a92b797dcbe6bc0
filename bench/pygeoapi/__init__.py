"""pygeoapi, the reference OGC API – Features server, set up to compete in bench.ogc_items.

It gets its own virtual environment (``bench/.venv-pygeoapi``, built from PyPI by
:func:`ensure_venv`) so that its pins never touch the app's, and a configuration
written from ``config.yml.in`` that serves a database's ``communities`` table
through pygeoapi's PostgreSQL provider.
"""
